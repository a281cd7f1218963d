package transport_test

import (
	"context"
	"fmt"
	"time"

	"github.com/escapement/escapement/transport"
	"github.com/escapement/escapement/transport/embedded"
)

// printer prints each value and stops after three.
type printer struct{ done chan struct{} }

func (p *printer) Assigned(_ context.Context, parts []transport.TopicPartition) {
	fmt.Println("assigned", parts)
}

func (p *printer) Handle(_ context.Context, d transport.Delivery) error {
	m := d.Message()
	fmt.Printf("%s/%d@%d %s=%s\n", m.Topic, m.Partition, m.Offset, m.Key, m.Value)
	if m.Offset == 2 {
		close(p.done)
	}
	return nil
}

func (p *printer) Revoked(_ context.Context, parts []transport.TopicPartition) {
	fmt.Println("revoked", parts)
}

func Example() {
	b, err := embedded.Start(embedded.Config{})
	if err != nil {
		panic(err)
	}
	defer b.Close()
	ctx := context.Background()
	cfg := transport.Config{Brokers: []string{b.Addr()}}
	if err := transport.EnsureTopics(ctx, cfg, []transport.TopicSpec{{Name: "escapement.events.v1", Partitions: 1}}); err != nil {
		panic(err)
	}

	p, err := transport.NewProducer(cfg, nil, nil)
	if err != nil {
		panic(err)
	}
	defer p.Close()
	for i := range 3 {
		msg := transport.Message{Topic: "escapement.events.v1", Key: []byte("vm-1"), Value: fmt.Appendf(nil, "batch-%d", i)}
		if err := p.Produce(ctx, msg); err != nil {
			panic(err)
		}
	}

	g, err := transport.NewGroup(cfg, transport.GroupConfig{
		GroupID: "example", Topics: []string{"escapement.events.v1"},
		SessionTimeout: 6 * time.Second, HeartbeatInterval: time.Second,
	}, nil, nil)
	if err != nil {
		panic(err)
	}
	h := &printer{done: make(chan struct{})}
	runCtx, stop := context.WithCancel(ctx)
	result := make(chan error, 1)
	go func() { result <- g.Run(runCtx, h) }()
	<-h.done
	stop() // soft stop: Revoked, then the final commit
	fmt.Println("run:", <-result)
	_ = g.Close()
	// Output:
	// assigned [{escapement.events.v1 0}]
	// escapement.events.v1/0@0 vm-1=batch-0
	// escapement.events.v1/0@1 vm-1=batch-1
	// escapement.events.v1/0@2 vm-1=batch-2
	// revoked [{escapement.events.v1 0}]
	// run: <nil>
}
