package obs

import (
	"fmt"
	"log/slog"

	"github.com/grafana/pyroscope-go"
)

// Profiler is a running continuous profiler; Stop flushes and stops it.
type Profiler interface{ Stop() error }

type noProfiler struct{}

func (noProfiler) Stop() error { return nil }

// StartProfiling pushes CPU, allocation, goroutine, mutex and block profiles
// of this process to the Pyroscope server at url, tagged with the stage and
// host. An empty url disables profiling.
func StartProfiling(url, app, stage, host string, log *slog.Logger) (Profiler, error) {
	if url == "" {
		return noProfiler{}, nil
	}
	p, err := pyroscope.Start(pyroscope.Config{
		ApplicationName: app,
		ServerAddress:   url,
		Tags:            map[string]string{"stage": stage, "host": host},
		ProfileTypes: []pyroscope.ProfileType{
			pyroscope.ProfileCPU, pyroscope.ProfileAllocObjects, pyroscope.ProfileAllocSpace,
			pyroscope.ProfileInuseObjects, pyroscope.ProfileInuseSpace, pyroscope.ProfileGoroutines,
			pyroscope.ProfileMutexCount, pyroscope.ProfileBlockCount,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("start pyroscope profiling to %s: %w", url, err)
	}
	OrDiscard(log).Info("continuous profiling on", "url", url, FieldStage, stage)
	return p, nil
}
