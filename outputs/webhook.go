package outputs

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/escapement/escapement/anomaly"
)

// WebhookConfig configures a Webhook.
type WebhookConfig struct {
	URL string
	// Header is added to every request (e.g. Authorization).
	Header http.Header
	// Client sends the requests (nil: a client with DefaultSendTimeout).
	Client *http.Client
}

// Webhook POSTs each canonical record as JSON, with the headers
// X-Escapement-Anomaly-Id, X-Escapement-Revision and Idempotency-Key
// (id/revision) so a receiver can de-duplicate too.
type Webhook struct{ cfg WebhookConfig }

// NewWebhook returns a Webhook output.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	if !strings.HasPrefix(cfg.URL, "http://") && !strings.HasPrefix(cfg.URL, "https://") {
		return nil, errors.New("the webhook URL must start with https:// or http:// (--output-webhook-url)")
	}
	cfg.Client = defaultClient(cfg.Client)
	return &Webhook{cfg: cfg}, nil
}

// Name implements Output.
func (*Webhook) Name() string { return "webhook" }

// Send implements Output.
func (w *Webhook) Send(ctx context.Context, rec anomaly.Record) error {
	body, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	hdr := w.cfg.Header.Clone()
	if hdr == nil {
		hdr = http.Header{}
	}
	hdr.Set("X-Escapement-Anomaly-Id", rec.ID)
	hdr.Set("X-Escapement-Revision", revisionHeader(rec.Revision))
	hdr.Set("Idempotency-Key", rec.ID+"/"+revisionHeader(rec.Revision))
	return post(ctx, w.cfg.Client, w.cfg.URL, body, hdr)
}
