package dashboards

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// composeService is the part of a compose service the test checks.
type composeService struct {
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	Environment map[string]string `yaml:"environment"`
}

// composeFile is the part of deploy/compose.yaml the test checks.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

// flagValue returns the value of --name in args ("--name v" or "--name=v").
func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// mountAt returns the host path a service mounts at target, or "".
func mountAt(volumes []string, target string) string {
	for _, v := range volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == target {
			return parts[0]
		}
	}
	return ""
}

// TestCompose checks deploy/compose.yaml against what it mounts and scrapes
// (Docker does not run here, so the file is parsed, not started): three
// regions, Prometheus with the shipped config, Grafana with the shipped
// provisioning and dashboards, the runner's metrics endpoint where
// prometheus.yml looks for it, and published ports on loopback only.
func TestCompose(t *testing.T) {
	b, err := os.ReadFile("../deploy/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("deploy/compose.yaml: %v", err)
	}
	svc := func(name string) composeService {
		s, ok := c.Services[name]
		if !ok {
			t.Fatalf("compose has no %s service", name)
		}
		return s
	}
	// Three regions, each named after its service, with the token set.
	for _, r := range []string{"us-east-2", "eu-west-1", "ap-southeast-2"} {
		s := svc(r)
		if got := flagValue(s.Command, "--region"); got != r {
			t.Errorf("service %s runs region %q", r, got)
		}
		for _, k := range []string{"IAMPROP_API_TOKEN", "IAMPROP_READ_TOKEN", "IAMPROP_ADMIN_TOKEN", "IAMPROP_GOSSIP_KEY", "IAMPROP_TLS_CERT", "IAMPROP_TLS_KEY"} {
			if s.Environment[k] == "" {
				t.Errorf("service %s lacks %s", r, k)
			}
		}
		if s.Environment["IAMPROP_ENABLE_FAULT_API"] != "" {
			t.Errorf("service %s enables the fault API", r)
		}
	}
	// Host paths exist, published ports are on loopback.
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src := strings.Split(v, ":")[0]
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join("../deploy", src)); err != nil {
					t.Errorf("service %s mounts %s, which does not exist", name, src)
				}
			}
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("service %s publishes %s beyond loopback", name, p)
			}
		}
	}
	// Prometheus reads the shipped config.
	p := svc("prometheus")
	if got := mountAt(p.Volumes, flagValue(p.Command, "--config.file")); filepath.Clean(got) != "../dashboards/prometheus.yml" {
		t.Errorf("prometheus reads %q at its --config.file, want ../dashboards/prometheus.yml", got)
	}
	// Grafana: provisioning, and the dashboards where the provider looks.
	g := svc("grafana")
	if got := mountAt(g.Volumes, "/etc/grafana/provisioning"); filepath.Clean(got) != "../dashboards/provisioning" {
		t.Errorf("grafana provisioning comes from %q", got)
	}
	var prov struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	pb, err := os.ReadFile("provisioning/dashboards/iamprop.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(pb, &prov); err != nil || len(prov.Providers) != 1 {
		t.Fatalf("provisioning/dashboards/iamprop.yml: %v", err)
	}
	if got := mountAt(g.Volumes, prov.Providers[0].Options.Path); filepath.Clean(got) != "../dashboards" {
		t.Errorf("grafana's dashboard provider reads %s, where compose mounts %q, want ../dashboards", prov.Providers[0].Options.Path, got)
	}
	var ds struct {
		Datasources []struct {
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	db, err := os.ReadFile("provisioning/datasources/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(db, &ds); err != nil || len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" {
		t.Fatalf("provisioning/datasources/prometheus.yml: want one prometheus datasource (%v)", err)
	}
	if u, err := url.Parse(ds.Datasources[0].URL); err != nil || u.Host != "prometheus:9090" {
		t.Errorf("the datasource points at %s, want the prometheus service on 9090", ds.Datasources[0].URL)
	}
	// Every scrape target is a service on the port it serves metrics on.
	var promCfg struct {
		ScrapeConfigs []struct {
			Job    string `yaml:"job_name"`
			Static []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	cb, err := os.ReadFile("prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(cb, &promCfg); err != nil {
		t.Fatal(err)
	}
	runner := svc("scenario")
	_, runnerPort, err := net.SplitHostPort(flagValue(runner.Command, "--metrics-addr"))
	if err != nil {
		t.Fatalf("the scenario service has no --metrics-addr HOST:PORT: %v", err)
	}
	wantPort := map[string]string{"iamprop-regionnode": "8080", "iamprop-scenario": runnerPort}
	jobs := 0
	for _, sc := range promCfg.ScrapeConfigs {
		port, ok := wantPort[sc.Job]
		if !ok {
			t.Errorf("prometheus.yml scrapes an unknown job %s", sc.Job)
			continue
		}
		jobs++
		for _, st := range sc.Static {
			for _, tg := range st.Targets {
				host, p, err := net.SplitHostPort(tg)
				if _, isService := c.Services[host]; err != nil || !isService || p != port {
					t.Errorf("job %s target %s: want a compose service on port %s", sc.Job, tg, port)
				}
			}
		}
	}
	if jobs != 2 {
		t.Errorf("prometheus.yml scrapes %d of the 2 jobs (region nodes, runner)", jobs)
	}
	// The runner drives the three nodes and names a library scenario.
	urls := strings.Split(flagValue(runner.Command, "--cluster"), ",")
	var hosts []string
	for _, u := range urls {
		pu, err := url.Parse(u)
		if err != nil || pu.Port() != "8080" || pu.Scheme != "https" {
			t.Errorf("--cluster URL %q: want https://SERVICE:8080", u)
			continue
		}
		hosts = append(hosts, pu.Hostname())
	}
	slices.Sort(hosts)
	if !slices.Equal(hosts, []string{"ap-southeast-2", "eu-west-1", "us-east-2"}) {
		t.Errorf("the runner drives %v, want the three region services", hosts)
	}
	if runner.Environment["IAMPROP_CA_FILE"] == "" {
		t.Error("the runner has no IAMPROP_CA_FILE to verify the nodes' certificates")
	}
	if !slices.Contains(runner.Command, "public-s3-bucket") || runner.Environment["IAMPROP_API_TOKEN"] == "" {
		t.Errorf("the runner does not run public-s3-bucket with the API token: %v", runner.Command)
	}
	// The nodes run IAMPROP_DELAY, not the scenario's model: without this
	// flag the runner refuses to start.
	if !slices.Contains(runner.Command, "--accept-node-model") {
		t.Errorf("the runner lacks --accept-node-model (the nodes' delay is not the scenario's): %v", runner.Command)
	}
}
