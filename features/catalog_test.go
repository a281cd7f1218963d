package features

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCatalog(t *testing.T) {
	require.Len(t, Catalog, numFeatures)
	require.GreaterOrEqual(t, len(Catalog), 35)
	name := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	seen := map[string]bool{}
	for i, s := range Catalog {
		require.Regexp(t, name, s.Name)
		require.False(t, seen[s.Name], "duplicate %s", s.Name)
		seen[s.Name] = true
		require.Contains(t, []string{UnitRate, UnitCount, UnitRatio}, s.Unit, s.Name)
		require.NotEmpty(t, s.Meaning, s.Name)
		require.Equal(t, i, Index(s.Name))
	}
	require.Equal(t, -1, Index("nope"))
	require.Equal(t, len(Catalog), len(Names()))
	h := SchemaHash()
	require.Len(t, h, 16)
	// The hash follows names and units.
	saved := Catalog[0].Unit
	Catalog[0].Unit = UnitRate
	require.NotEqual(t, h, SchemaHash())
	Catalog[0].Unit = saved
	require.Equal(t, h, SchemaHash())
}

const docsPath = "../docs/features.md"

// TestDocsUpToDate fails when docs/features.md does not match the catalog;
// UPDATE_DOCS=1 go test -run TestDocsUpToDate ./features rewrites it.
func TestDocsUpToDate(t *testing.T) {
	want := renderDocs()
	if os.Getenv("UPDATE_DOCS") != "" {
		require.NoError(t, os.MkdirAll(filepath.Dir(docsPath), 0o755))
		require.NoError(t, os.WriteFile(docsPath, []byte(want), 0o644))
		return
	}
	got, err := os.ReadFile(docsPath)
	require.NoError(t, err, "run UPDATE_DOCS=1 go test -run TestDocsUpToDate ./features")
	require.Equal(t, want, string(got), "docs/features.md is out of date: run UPDATE_DOCS=1 go test -run TestDocsUpToDate ./features")
}

func renderDocs() string {
	var b strings.Builder
	b.WriteString(docsHead)
	fmt.Fprintf(&b, "Schema `%s`, catalog hash `%s` (first 16 hex characters of the SHA-256 of every name and unit), %d features.\n\n", SchemaVersion, SchemaHash(), len(Catalog))
	b.WriteString("| # | name | unit | meaning |\n|---|---|---|---|\n")
	for i, s := range Catalog {
		fmt.Fprintf(&b, "| %d | `%s` | %s | %s |\n", i, s.Name, s.Unit, s.Meaning)
	}
	b.WriteString(docsTail)
	return b.String()
}

const docsHead = `# Features (escapement.features.v1)

<!-- Generated from features/catalog.go by TestDocsUpToDate; edit the catalog
     or features/catalog_test.go, then run UPDATE_DOCS=1 go test -run TestDocsUpToDate ./features -->

The featurize stage reads escapement.events.v1 and writes one row per VM per
window to escapement.features.v1 (key vm_id; value one Arrow IPC stream with one
record batch of that VM's rows; headers content-type
application/vnd.apache.arrow.stream and escapement-schema features.v1).

## Columns

vm_id (utf8), host (utf8), window_start and window_end (int64, ns since the Unix
epoch, start inclusive, end exclusive), one float64 column per feature below in
this order, and ngrams: list<struct<stream uint8, hash uint64, count uint32>>.
The Arrow schema metadata carries escapement.schema=features.v1 and
escapement.schema_hash; readers reject a stream whose hash differs from their
own catalog's (models record the hash they were trained on).

## Catalog

Rates (unit 1/s) are counts divided by the window length in seconds; counts are
per window; ratios lie in 0..1. Every value is non-negative, so log1p applies;
models standardise. "Distinct" counts are linear-counting estimates (a 256-bit
map per window): exact while no two items share a bit, within a few percent up to
a few hundred, saturating near 1420.

`

const docsTail = `
## Novelty and warm-up

Each VM keeps a bounded history per item stream (I/O ports, MMIO pages, MSR
indices, CPUID leaves, hypercall numbers, syscall numbers, syscall 3-grams,
exit-kind 3-grams): a 4-way set-associative table of 32-bit fingerprints
(64/64/64/32/32/64/256/128 entries). An item is novel the first time the VM uses
it: it is looked up and added at once, so it counts as novel in exactly one
window. When a bucket is full a new item replaces one of its four entries, so
the history forgets rarely used items instead of growing; a forgotten item that
returns is novel again. The n-gram novelty features are the share of the
window's distinct n-grams that were novel.

A VM's first 5 windows (Config.WarmupWindows) see everything as new (boot
probes ports, MSRs and CPUID leaves), so their novelty features are reported as
0 while the history still learns. After a rebalance or restart a VM's history
starts empty and it warms up again; a reboot later in a VM's life repeats what
the history holds and does not look novel.

## Windowing and lateness

Windows are tumbling, per VM, in event time (the host clock in the event),
aligned to multiples of the window length (default 1 s) since the Unix epoch.
A window closes when the VM's newest event time, or the watermark given to
Advance, reaches its end + lateness (default 2 s); events of a closed window are
dropped and counted as late drops. Rows of one VM come out in window order.
Windows in which a VM had no events are not emitted: a gap in a VM's rows means
no activity (or a collector outage), not a row of zeros.

The streaming stage advances each partition every 200 ms with a watermark of
the partition's greatest event time plus the wall time since it was seen: event
time while data flows (a consumer catching up on a backlog drops nothing), wall
time when the partition is quiet, so a VM that goes silent has its windows
closed within window + lateness + 200 ms. The watermark is shared by the VMs of
a partition, so host clocks must agree within the lateness (NTP does).

## At-least-once

A consumed events message is retained while any window it contributed to is
open, and released once the rows of those windows were produced and
acknowledged, so committed offsets never pass an open window. On revocation the
rows of closed windows are produced and the open windows are dropped with their
input left uncommitted: the partition's next owner reads it again and emits each
window once and complete (flushing them would give a partial row followed by a
second row for the same window). After a crash, the uncommitted input is
replayed and rows may repeat: consumers de-duplicate by (vm_id, window_start);
the VM's novelty history and n-gram threads start afresh on the new owner.

## Eviction

A VM without events for the idle TTL (default 5 min, against the watermark) is
evicted with its history. Beyond MaxVMs (default 20 000) held VMs, a new VM
evicts the least recently seen one; its open windows are emitted first.

## N-gram sketch

Each row carries a bounded sketch of n-grams (n = 3 by default) over exit kinds
(stream 0, per vCPU thread) and VMM system call numbers (stream 1, per VMM
thread). The hash is FNV-1a 64 over the stream and the items as 64-bit words,
finalised with the MurmurHash3 mixer, its lowest bit replaced by the stream
(features.NGramHash). A window counts at most 3/4 of 1.5·K distinct n-grams
(72 for the default K = 64) and keeps the K most frequent, ties broken by stream
then hash; n-grams first seen after the table is that full are left out of the
sketch (still counted for novelty) and
reported in Stats.SketchDrops. Up to 8 threads per VM keep their n-gram chains;
a ninth takes a slot round-robin and restarts that chain.

## State per VM

With the defaults a VM holds about 8.4 KiB (measured by TestVMStateBound: 8381
bytes estimated, 8670 bytes of heap per VM over 2000 VMs): 2.8 KiB of history,
about 1.8 KiB per open window (counters, distinct maps, sketch) times the
1 + lateness/window = 3 windows a busy VM has open, and its thread chains,
names and map entry. State grows with lateness/window and with the sketch size.
`
