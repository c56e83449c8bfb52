//go:build js && wasm

// Command playground-wasm is the browser playground's WebAssembly module:
// it runs in the page's Web Worker and exposes package playground to
// JavaScript as the global object iamprop. `scenario playground` builds it
// (GOOS=js GOARCH=wasm) and writes it beside the page.
package main

import (
	"context"
	"encoding/json"
	"strconv"
	"syscall/js"

	"github.com/iamprop/iamprop/internal/playground"
)

// toJS encodes v as a JSON string for the page.
func toJS(v any) js.Value {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	return js.ValueOf(string(b))
}

// throttle calls the page's progress callback at most a hundred times: a
// message per trial of a 10,000-trial run would cost more than the bar is
// worth.
func throttle(onProgress js.Value) func(done, total int) {
	last := -1
	return func(done, total int) {
		if pct := done * 100 / total; pct != last || done == total {
			last = pct
			onProgress.Invoke(done, total)
		}
	}
}

// lastSharder keeps the Sharder of the run this worker last took a shard
// of: its next shard reuses the parsed scenario and the plan.
type lastSharder struct {
	key string
	sh  *playground.Sharder
}

func (l *lastSharder) get(name, src string, seed uint64, trials int) (*playground.Sharder, []playground.Issue) {
	key := strconv.Quote(name) + " " + strconv.FormatUint(seed, 10) + " " + strconv.Itoa(trials) + " " + src
	if l.sh != nil && l.key == key {
		return l.sh, nil
	}
	sh, is := playground.NewSharder(name, src, seed, trials)
	if is != nil {
		return nil, is
	}
	l.key, l.sh = key, sh
	return sh, nil
}

var sharders lastSharder

// folding is the fold foldStart began in this worker (one at a time: the
// page runs one run at a time).
var folding *playground.Folder

func main() {
	api := map[string]any{
		// library() -> JSON [{name, title, description, lesson, yaml}]
		"library": js.FuncOf(func(js.Value, []js.Value) any {
			lib, err := playground.Library()
			if err != nil {
				return toJS(map[string]string{"error": err.Error()})
			}
			return toJS(lib)
		}),
		// knobs(yaml) -> JSON {seed, median, p99, steps: [{at, label}]} or {error}
		"knobs": js.FuncOf(func(_ js.Value, args []js.Value) any {
			k, err := playground.ReadKnobs(args[0].String())
			if err != nil {
				return toJS(map[string]string{"error": err.Error()})
			}
			return toJS(k)
		}),
		// setKnobs(yaml, knobsJSON) -> JSON {yaml} or {error}
		"setKnobs": js.FuncOf(func(_ js.Value, args []js.Value) any {
			var k playground.Knobs
			if err := json.Unmarshal([]byte(args[1].String()), &k); err != nil {
				return toJS(map[string]string{"error": err.Error()})
			}
			out, err := playground.SetKnobs(args[0].String(), k)
			if err != nil {
				return toJS(map[string]string{"error": err.Error()})
			}
			return toJS(map[string]string{"yaml": out})
		}),
		// run(name, yaml, seed, trials, onProgress(done, total), onDone(resultJSON)):
		// the run goes on a goroutine, since a JavaScript callback must not block.
		"run": js.FuncOf(func(_ js.Value, args []js.Value) any {
			name, src := args[0].String(), args[1].String()
			seed, _ := strconv.ParseUint(args[2].String(), 10, 64)
			trials := args[3].Int()
			onProgress, onDone := args[4], args[5]
			go func() {
				res := playground.Run(context.Background(), name, src, seed, trials, throttle(onProgress))
				onDone.Invoke(toJS(res))
			}()
			return nil
		}),
		// runShard(name, yaml, seed, trials, from, to, onProgress(done, total), onDone(issuesJSON, bytes)):
		// trials [from, to) of that run for foldAdd, on a goroutine like run;
		// onDone gets null and a Uint8Array, or the issues and null. The
		// page sends a worker one shard at a time.
		"runShard": js.FuncOf(func(_ js.Value, args []js.Value) any {
			name, src := args[0].String(), args[1].String()
			seed, _ := strconv.ParseUint(args[2].String(), 10, 64)
			trials, from, to := args[3].Int(), args[4].Int(), args[5].Int()
			onProgress, onDone := args[6], args[7]
			go func() {
				sh, is := sharders.get(name, src, seed, trials)
				var b []byte
				if is == nil {
					b, is = sh.Run(context.Background(), from, to, throttle(onProgress))
				}
				if is != nil {
					onDone.Invoke(toJS(is), js.Null())
					return
				}
				u8 := js.Global().Get("Uint8Array").New(len(b))
				js.CopyBytesToJS(u8, b)
				onDone.Invoke(js.Null(), u8)
			}()
			return nil
		}),
		// foldStart(name, yaml, seed, trials) -> issues JSON or null: starts
		// this worker's fold of that run's shards (runs its trial 0); it
		// takes them a shard at a time, so that the first worker folds
		// shards between its own rather than all of them at the end.
		"foldStart": js.FuncOf(func(_ js.Value, args []js.Value) any {
			seed, _ := strconv.ParseUint(args[2].String(), 10, 64)
			f, is := playground.NewFolder(args[0].String(), args[1].String(), seed, args[3].Int())
			folding = f
			if is != nil {
				return toJS(is)
			}
			return js.Null()
		}),
		// foldAdd(shard, a runShard Uint8Array) -> issues JSON or null.
		"foldAdd": js.FuncOf(func(_ js.Value, args []js.Value) any {
			if folding == nil {
				return toJS([]playground.Issue{{Message: "foldAdd before foldStart"}})
			}
			b := make([]byte, args[0].Length())
			js.CopyBytesToGo(b, args[0])
			if is := folding.Add(context.Background(), b); is != nil {
				return toJS(is)
			}
			return js.Null()
		}),
		// foldEnd(onDone(resultJSON)): the result run gives, once every
		// shard is in.
		"foldEnd": js.FuncOf(func(_ js.Value, args []js.Value) any {
			f, onDone := folding, args[0]
			folding = nil
			go func() {
				if f == nil {
					onDone.Invoke(toJS(playground.Result{Issues: []playground.Issue{{Message: "foldEnd before foldStart"}}}))
					return
				}
				onDone.Invoke(toJS(f.Finish()))
			}()
			return nil
		}),
		// compare(sourcesJSON, seed, trials, onProgress(done, total), onDone(resultJSON)):
		// sourcesJSON is [{name, yaml}], the case first, then its mitigations.
		"compare": js.FuncOf(func(_ js.Value, args []js.Value) any {
			var srcs []playground.Source
			onProgress, onDone := args[3], args[4]
			if err := json.Unmarshal([]byte(args[0].String()), &srcs); err != nil {
				onDone.Invoke(toJS(playground.Result{Issues: []playground.Issue{{Message: err.Error()}}}))
				return nil
			}
			seed, _ := strconv.ParseUint(args[1].String(), 10, 64)
			trials := args[2].Int()
			go func() {
				res := playground.Compare(context.Background(), srcs, seed, trials, throttle(onProgress))
				onDone.Invoke(toJS(res))
			}()
			return nil
		}),
	}
	js.Global().Set("iamprop", js.ValueOf(api))
	js.Global().Call("postMessage", map[string]any{"type": "ready"})
	select {} // serve calls until the worker ends
}
