package features

// Topic is the Kafka topic feature rows travel on (key vm_id, value Arrow IPC).
const Topic = "escapement.features.v1"

// SchemaVersion of feature rows, carried in headers and Arrow metadata.
const SchemaVersion = "features.v1"

// Sketch streams: which sequence an n-gram was taken from.
const (
	StreamExit    uint8 = 0 // guest exit kinds (per vCPU thread)
	StreamSyscall uint8 = 1 // VMM system calls (per VMM thread)
)

// NGram is one entry of a window's bounded n-gram sketch: the hash of an
// n-gram of exit kinds or system calls seen on one thread, with its count.
type NGram struct {
	Stream uint8
	Hash   uint64
	Count  uint32
}

// Row is the feature vector of one VM for one window.
type Row struct {
	VMID   string
	Host   string
	Start  int64     // window start, ns since the Unix epoch (inclusive)
	End    int64     // window end, ns (exclusive)
	Values []float64 // one value per Catalog entry, in Catalog order
	NGrams []NGram   // bounded sketch, at most the configured sketch size
}
