package zmax

import "github.com/escapement/escapement/models/internal/check"

func errEmpty() error { return check.ErrEmpty }
