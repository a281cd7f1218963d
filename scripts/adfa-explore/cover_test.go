package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCover(t *testing.T) {
	a := newAutomaton([][]int{{1, 2, 3, 4}, {3, 4, 5}, {9}})
	for _, tc := range []struct {
		trace []int
		want  []int
	}{
		{[]int{1, 2, 3, 4}, []int{4}},
		{[]int{2, 3, 4, 5}, []int{3, 1}},       // 2 3 4 | 5 (4 5 is not inside one trace)
		{[]int{3, 4, 5, 9, 1}, []int{3, 1, 1}}, // a piece never spans two traces
		{[]int{7, 1, 2}, []int{1, 2}},          // an unseen call is a piece of its own
		{nil, nil},
	} {
		require.Equal(t, tc.want, a.cover(tc.trace), "%v", tc.trace)
	}
}
