// Package dashboards holds iamprop's Grafana dashboards, Grafana provisioning and the
// Prometheus scrape configuration, and the tests that lint them and check them against
// a real Prometheus.
package dashboards
