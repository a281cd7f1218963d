// Package embedded runs a single-node Kafka-protocol broker inside the
// process, on github.com/twmb/franz-go/pkg/kfake, for `escapement run`, the
// demo and tests. It is a convenience, not a cluster: one node, no
// replication, no security, and durability only as good as its data
// directory. Production deployments point the stages at a real Kafka cluster.
//
// With Config.DataDir set the broker keeps topics, records, and committed
// group offsets across Close and Start. Retention (Config.RetentionMs and
// Config.RetentionBytes, per partition) is enforced every
// Config.RetentionCheck; kfake applies broker-level retention only when asked.
//
// kafka-go's consumer groups (JoinGroup v1, SyncGroup, Heartbeat,
// OffsetFetch, OffsetCommit v2, LeaveGroup) and CreateTopics work against it
// without any version overrides.
package embedded
