// Package api serves Escapement's anomaly API for SIEM pullers and analysts.
// It reads anomaly records from a Store fed from escapement.anomalies.v1 and
// never reaches into the scorer: the canonical anomaly record is the whole
// contract between them.
//
// Endpoints (docs/api.md): GET /api/v1/anomalies, GET /api/v1/anomalies/{id},
// GET /healthz, GET /readyz, GET /metrics.
package api
