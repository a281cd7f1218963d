package outputs

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/escapement/escapement/anomaly"
)

// HECPath is the Splunk HTTP Event Collector endpoint for JSON events.
const HECPath = "/services/collector/event"

// HECConfig configures a HEC output.
type HECConfig struct {
	// URL is the collector, e.g. https://splunk:8088 (HECPath is added
	// when the URL has no path).
	URL   string
	Token string
	// Source and Sourcetype of the events (default "escapement" and
	// "escapement:anomaly"); Index is optional (the token's default).
	Source, Sourcetype, Index string
	// Client sends the requests (nil: a client with DefaultSendTimeout).
	Client *http.Client
}

// HEC sends each record as one Splunk HEC event.
type HEC struct {
	cfg HECConfig
	url string
}

// NewHEC returns a HEC output.
func NewHEC(cfg HECConfig) (*HEC, error) {
	if cfg.URL == "" || cfg.Token == "" {
		return nil, errors.New("the Splunk HEC output needs a URL and a token (--output-hec-url, --output-hec-token)")
	}
	if !strings.HasPrefix(cfg.URL, "http://") && !strings.HasPrefix(cfg.URL, "https://") {
		return nil, errors.New("the Splunk HEC URL must start with https:// or http://, e.g. https://splunk:8088")
	}
	if cfg.Source == "" {
		cfg.Source = "escapement"
	}
	if cfg.Sourcetype == "" {
		cfg.Sourcetype = "escapement:anomaly"
	}
	cfg.Client = defaultClient(cfg.Client)
	u := strings.TrimRight(cfg.URL, "/")
	if rest := u[strings.Index(u, "//")+2:]; !strings.Contains(rest, "/") {
		u += HECPath
	}
	return &HEC{cfg: cfg, url: u}, nil
}

// Name implements Output.
func (*HEC) Name() string { return "hec" }

// HECEvent is the JSON envelope HEC takes.
type HECEvent struct {
	Time       float64        `json:"time"` // epoch seconds: the revision's updated_at
	Host       string         `json:"host"` // the hypervisor host
	Source     string         `json:"source"`
	Sourcetype string         `json:"sourcetype"`
	Index      string         `json:"index,omitempty"`
	Event      anomaly.Record `json:"event"`
}

// Send implements Output.
func (h *HEC) Send(ctx context.Context, rec anomaly.Record) error {
	body, err := json.Marshal(HECEvent{Time: float64(rec.UpdatedAt.UnixMilli()) / 1000, Host: rec.Host,
		Source: h.cfg.Source, Sourcetype: h.cfg.Sourcetype, Index: h.cfg.Index, Event: rec})
	if err != nil {
		return err
	}
	return post(ctx, h.cfg.Client, h.url, body, http.Header{"Authorization": {"Splunk " + h.cfg.Token}})
}
