// Package ui is the analyst's web page for the anomaly API: a fleet view (VMs
// by current risk with a sparkline of their recent scores), the anomaly list
// with filters, an anomaly's detail (features observed against baseline,
// detectors, the score timeline around the incident) and the triage buttons
// (acknowledge, resolve, true or false positive) that PATCH the anomaly with
// If-Match.
//
// The page is three static files (index.html, app.js, style.css) embedded in
// the binary: plain JavaScript, no framework, nothing to build. It talks only
// to /api/v1 on its own origin. Handler serves them under the Prefix path; the
// API server mounts it there. The files need no token; the API calls do,
// unless the server runs local-only (the page asks for a token when the API
// answers 401 and keeps it in the tab's sessionStorage).
package ui
