package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/iamprop/iamprop/apiclient"
	"github.com/iamprop/iamprop/delay"
	"github.com/iamprop/iamprop/wire"
)

// connectCluster compares each node's reported delay model with the
// scenario's: equal passes, a node without a model is a zero delay, a
// difference is a ModelMismatchError naming it unless accepted.
func TestClusterModelCheck(t *testing.T) {
	node := func(region, model string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = json.NewEncoder(w).Encode(wire.ViewInfo{Region: region, Propagation: model})
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	want := "default lognormal(median 4s, p99 10s)"
	tests := []struct {
		name    string
		models  [2]string
		want    string
		accept  bool
		errHas  []string
		errNot  []string
		wantErr bool
	}{
		{"same model", [2]string{want, want}, want, false, nil, nil, false},
		{"no model is a zero delay", [2]string{"", ""}, "default constant(0s)", false, nil, nil, false},
		{"one node differs", [2]string{want, "default constant(2s)"}, want, false,
			[]string{"eu-west-1: node has default constant(2s), scenario has default lognormal(median 4s, p99 10s)", "--accept-node-model"}, []string{"us-east-2:"}, true},
		{"a node without a model", [2]string{"", want}, want, false, []string{"us-east-2: node has default constant(0s)"}, nil, true},
		{"an extra link", [2]string{want + "; link us-east-2>eu-west-1 constant(6s)", want}, want, false,
			[]string{"us-east-2: node has link us-east-2>eu-west-1 constant(6s)"}, []string{"scenario has"}, true},
		{"accepted", [2]string{"default constant(2s)", "default constant(2s)"}, want, true, nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			urls := []string{node("us-east-2", tt.models[0]), node("eu-west-1", tt.models[1])}
			_, err := connectCluster(context.Background(), urls, apiclient.Options{}, []string{"us-east-2", "eu-west-1"}, tt.want, tt.accept)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			var mm *ModelMismatchError
			if !errors.As(err, &mm) {
				t.Errorf("err %T, want *ModelMismatchError", err)
			}
			for _, s := range tt.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error lacks %q: %v", s, err)
				}
			}
			for _, s := range tt.errNot {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error has %q: %v", s, err)
				}
			}
		})
	}
}

// The refusal's --delay hint, pasted into a shell, gives the node exactly
// the scenario's model.
func TestModelMismatchSuggestsTheScenariosDelay(t *testing.T) {
	want := "default lognormal(median 4s, p99 10s); link us-east-2>eu-west-1 constant(6s); revoke constant(1s)"
	msg := (&ModelMismatchError{Scenario: want, Nodes: map[string]string{"eu-west-1": "default constant(2s)"}}).Error()
	_, after, ok := strings.Cut(msg, "--delay '")
	if !ok {
		t.Fatalf("no --delay hint in %q", msg)
	}
	hint, _, ok := strings.Cut(after, "'")
	if !ok {
		t.Fatalf("unterminated --delay hint in %q", msg)
	}
	m, err := delay.ParseModel(hint, nil)
	if err != nil {
		t.Fatalf("the hint %q does not parse as --delay: %v", hint, err)
	}
	if got := m.String(); got != want {
		t.Errorf("the hint gives the model %q, want the scenario's %q", got, want)
	}
}
