package scenarios

// baseScenario is a small valid scenario; each bad case edits it with
// string replacements, so the line of every error is known.
const baseScenario = `name: t
title: test
duration: 10s
regions: [us-east-2, eu-west-1]
propagation:
  default: {dist: constant, value: 2s}
policies:
  public-read: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/*"}]}
state:
  accounts: ["111122223333"]
  buckets: [{name: b, region: eu-west-1, policy: public-read}]
steps:
  - {at: 1s, region: us-east-2, call: s3:DeleteBucketPolicy, with: {bucket: b}}
probes:
  - {name: reader, region: eu-west-1, principal: anonymous, action: s3:GetObject, resource: "arn:aws:s3:::b/k"}
expect:
  - "exposure(reader).p50 > 0s"
`

// badCases each break baseScenario in one way and name the one issue the
// loader must report, exactly as printed.
var badCases = []struct {
	name    string
	replace []string // old, new, old, new, ...
	want    string
}{
	{"unknown top-level key", []string{"title: test\n", "title: test\nregoins: [a]\n"}, "t.yaml:3:1: regoins: unknown key \"regoins\"; expected one of: name, title, description, lesson, sources, seed, duration, regions, propagation, network, gossip, policies, state, steps, probes, faults, expect (did you mean \"regions\"?)"},
	{"unknown key in a step", []string{"with: {bucket: b}}", "with: {bucket: b}, lable: x}"}, "t.yaml:13:81: steps[0].lable: unknown key \"lable\"; expected one of: at, region, call, with, account, label (did you mean \"label\"?)"},
	{"wrong type: duration is a list", []string{"duration: 10s", "duration: [10s]"}, "t.yaml:3:11: duration: must be a duration such as 1s, 250ms or 2m, got a list"},
	{"duration without unit", []string{"duration: 10s", "duration: 10"}, "t.yaml:3:11: duration: must be a duration such as 1s, 250ms or 2m, got \"10\" (add a unit: 10s)"},
	{"negative duration", []string{"value: 2s", "value: -2s"}, "t.yaml:6:36: propagation.default.value: must not be negative, got -2s"},
	{"missing required key", []string{"title: test\n", ""}, "t.yaml:1:1: title: missing required key \"title\" (one line shown by `scenario list`)"},
	{"name differs from the file", []string{"name: t\n", "name: other\n"}, "t.yaml:1:7: name: must equal the file name without .yaml (\"t\"), got \"other\""},
	{"unknown region in a step", []string{"region: us-east-2, call", "region: us-east-9, call"}, "t.yaml:13:22: steps[0].region: unknown region \"us-east-9\"; expected one of the scenario's regions: us-east-2, eu-west-1 (did you mean \"us-east-2\"?)"},
	{"unknown region in a probe", []string{"region: eu-west-1, principal", "region: eu-west-2, principal"}, "t.yaml:15:28: probes[0].region: unknown region \"eu-west-2\"; expected one of the scenario's regions: us-east-2, eu-west-1 (did you mean \"eu-west-1\"?)"},
	{"unknown region of a bucket", []string{"region: eu-west-1, policy", "region: eu-central-1, policy"}, "t.yaml:11:31: state.buckets[0].region: unknown region \"eu-central-1\"; expected one of the scenario's regions: us-east-2, eu-west-1"},
	{"unknown region in a link", []string{"value: 2s}\n", "value: 2s}\n  links: [{from: us-east-2, to: mars-1, dist: constant, value: 1s}]\n"}, "t.yaml:7:33: propagation.links[0].to: unknown region \"mars-1\"; expected one of the scenario's regions: us-east-2, eu-west-1"},
	{"unknown region in a fault", []string{"expect:\n", "faults:\n  - {at: 2s, crash: eu-west-3}\nexpect:\n"}, "t.yaml:17:21: faults[0].crash: unknown region \"eu-west-3\"; expected one of the scenario's regions: us-east-2, eu-west-1 (did you mean \"eu-west-1\"?)"},
	{"unknown policy name", []string{"policy: public-read}", "policy: public-reed}"}, "t.yaml:11:50: state.buckets[0].policy: unknown policy \"public-reed\"; expected one of the scenario's policies: public-read (did you mean \"public-read\"?)"},
	{"unknown policy in with", []string{"call: s3:DeleteBucketPolicy, with: {bucket: b}}", "call: s3:PutBucketPolicy, with: {bucket: b, policy: privat}}"}, "t.yaml:13:85: steps[0].with.policy: unknown policy \"privat\"; expected one of the scenario's policies: public-read"},
	{"unknown call", []string{"s3:DeleteBucketPolicy", "s3:DeleteBucketPolcy"}, "t.yaml:13:39: steps[0].call: unknown call \"s3:DeleteBucketPolcy\"; expected an AWS API action listed in docs/mutations.md (did you mean \"s3:DeleteBucketPolicy\"?)"},
	{"unknown argument", []string{"with: {bucket: b}}", "with: {bucket: b, bukcet: c}}"}, "t.yaml:13:80: steps[0].with.bukcet: unknown argument \"bukcet\"; expected one of: bucket (did you mean \"bucket\"?)"},
	{"missing argument", []string{"with: {bucket: b}}", "with: {}}"}, "t.yaml:13:68: steps[0].with.bucket: s3:DeleteBucketPolicy needs argument \"bucket\" (string): Name of the bucket (Bucket)."},
	{"wrong argument type", []string{"call: s3:DeleteBucketPolicy, with: {bucket: b}}", "call: s3:PutPublicAccessBlock, with: {bucket: b, block_public_policy: yes please}}"}, "t.yaml:13:103: steps[0].with.block_public_policy: must be true or false, got \"yes please\""},
	{"step after duration", []string{"{at: 1s,", "{at: 11s,"}, "t.yaml:13:10: steps[0].at: 11s is after the scenario's duration (10s); expected at most 10s"},
	{"probe until after duration", []string{`resource: "arn:aws:s3:::b/k"}`, `resource: "arn:aws:s3:::b/k", until: 12s}`}, "t.yaml:15:120: probes[0].until: 12s is after the scenario's duration (10s); expected at most 10s"},
	{"probe from after until", []string{`resource: "arn:aws:s3:::b/k"}`, `resource: "arn:aws:s3:::b/k", from: 5s, until: 4s}`}, "t.yaml:15:130: probes[0].until: the probe never runs: from (5s) must be before until (4s)"},
	{"fault after duration", []string{"expect:\n", "faults:\n  - {at: 20s, crash: eu-west-1}\nexpect:\n"}, "t.yaml:17:10: faults[0].at: 20s is after the scenario's duration (10s); expected at most 10s"},
	{"unknown probe in expectation", []string{"exposure(reader)", "exposure(raeder)"}, "t.yaml:17:15: expect[0]: unknown probe \"raeder\"; expected one of: reader (did you mean \"reader\"?)"},
	{"unknown statistic", []string{".p50 >", ".p95 >"}, "t.yaml:17:23: expect[0]: expected a statistic (min, p50, p90, p99, max, mean), got \"p95 > 0s\""},
	{"bad operator", []string{"p50 > 0s", "p50 => 0s"}, "t.yaml:17:27: expect[0]: expected a comparison (<, <=, >, >=, ==, !=), got \"=> 0s\""},
	{"count compared with a duration", []string{`"exposure(reader).p50 > 0s"`, `"stale_allows(reader) > 1s"`}, "t.yaml:17:29: expect[0]: expected a whole number (a count of requests), got \"1s\""},
	{"unknown expectation kind", []string{`"exposure(reader).p50 > 0s"`, `"exposures(reader).p50 > 0s"`}, "t.yaml:17:6: expect[0]: unknown expectation \"exposures\"; expected one of: exposure(PROBE).STAT OP DURATION, denial(PROBE).STAT OP DURATION, lag(REGION).STAT OP DURATION, stale_allows(PROBE) OP INT, stale_denies(PROBE) OP INT, confidential_reads(PROBE) OP INT, converged or not converged"},
	{"trailing junk in expectation", []string{`"exposure(reader).p50 > 0s"`, `"converged now"`}, "t.yaml:17:16: expect[0]: expected nothing after converged, got \"now\""},
	{"lag of an unknown region", []string{`"exposure(reader).p50 > 0s"`, `"lag(eu-west-3).max < 5s"`}, "t.yaml:17:10: expect[0]: unknown region \"eu-west-3\"; expected one of: us-east-2, eu-west-1 (did you mean \"eu-west-1\"?)"},
	{"invalid distribution name", []string{"dist: constant", "dist: gaussian"}, "t.yaml:6:19: propagation.default.dist: unknown distribution \"gaussian\"; expected one of: constant, uniform, normal, lognormal, exponential, pareto, empirical"},
	{"distribution parameter of another dist", []string{"{dist: constant, value: 2s}", "{dist: constant, value: 2s, p99: 3s}"}, "t.yaml:6:40: propagation.default.p99: constant does not take \"p99\"; it takes: value"},
	{"lognormal p99 below median", []string{"{dist: constant, value: 2s}", "{dist: lognormal, median: 4s, p99: 2s}"}, "t.yaml:6:47: propagation.default.p99: must be greater than median (4s), got 2s; for a fixed delay use dist: constant"},
	{"uniform max below min", []string{"{dist: constant, value: 2s}", "{dist: uniform, min: 3s, max: 1s}"}, "t.yaml:6:42: propagation.default.max: must be at least min (3s), got 1s"},
	{"pareto shape not positive", []string{"{dist: constant, value: 2s}", "{dist: pareto, scale: 1s, shape: 0}"}, "t.yaml:6:45: propagation.default.shape: must be greater than 0, got 0"},
	{"empirical not ending at 1", []string{"{dist: constant, value: 2s}", "{dist: empirical, points: [[1, 0.5], [2, 0.9]]}"}, "t.yaml:6:49: propagation.default.points[1]: the last point's cumulative probability must be 1, got 0.9"},
	{"empirical decreasing", []string{"{dist: constant, value: 2s}", "{dist: empirical, points: [[2, 0.5], [1, 1]]}"}, "t.yaml:6:50: propagation.default.points[1][0]: seconds must not decrease (previous point is at 2)"},
	{"duplicate key", []string{"duration: 10s\n", "duration: 10s\nduration: 5s\n"}, "t.yaml:4:1: duration: duplicate key \"duration\" (first at line 3)"},
	{"duplicate probe name", []string{"expect:\n", "  - {name: reader, region: eu-west-1, principal: anonymous, action: s3:GetObject, resource: \"arn:aws:s3:::b/k\"}\nexpect:\n"}, "t.yaml:16:12: probes[1].name: probe \"reader\" is defined twice"},
	{"consistency on an unknown step label", []string{`resource: "arn:aws:s3:::b/k"}`, `resource: "arn:aws:s3:::b/k", consistency: {mode: at_least, step: make-privat}}`}, "t.yaml:15:149: probes[0].consistency.step: no step is labelled \"make-privat\"; expected a step number (1 = first), or give the step a label"},
	{"intended access neither allow nor deny", []string{`resource: "arn:aws:s3:::b/k"}`, `resource: "arn:aws:s3:::b/k", intended: denied}`}, "t.yaml:15:123: probes[0].intended: want allow or deny (the access the request should have), got \"denied\""},
	{"consistency option of another mode", []string{`resource: "arn:aws:s3:::b/k"}`, `resource: "arn:aws:s3:::b/k", consistency: {mode: local, max_lag: 1s}}`}, "t.yaml:15:140: probes[0].consistency.max_lag: only applies to mode max_lag, not local"},
	{"bad principal", []string{"principal: anonymous", "principal: role:deploy"}, "t.yaml:15:50: probes[0].principal: a role principal is role:ROLE/SESSION; expected anonymous, user:NAME, key:ACCESS_KEY_ID, role:ROLE/SESSION or an ARN, got \"role:deploy\""},
	{"duplicate key inside a policy", []string{`Resource: "arn:aws:s3:::b/*"}]}`, `Resource: "arn:aws:s3:::b/*", Effect: Allow}]}`}, "t.yaml:8:138: policies.public-read.Statement[0].Effect: duplicate key \"Effect\""},
	{"invalid YAML", []string{"title: test\n", "title: [test\n"}, "t.yaml:2:1: invalid YAML: did not find expected ',' or ']'"},
	{"a second document", []string{"expect:\n", "---\nexpect:\n"}, "t.yaml:16:1: invalid YAML: a second YAML document (after ---); a scenario file holds exactly one"},
	{"account not 12 digits", []string{`accounts: ["111122223333"]`, `accounts: ["1111"]`}, "t.yaml:10:14: state.accounts[0]: must be a 12-digit AWS account id (quote it: \"111122223333\"), got \"1111\""},
	{"user in an unknown group", []string{"  buckets:", "  users: [{name: alice, groups: [devs]}]\n  buckets:"}, "t.yaml:11:34: state.users[0].groups[0]: unknown group \"devs\"; define it under state.groups (in the user's account)"},
	{"two fault kinds", []string{"expect:\n", "faults:\n  - {at: 2s, crash: eu-west-1, loss: 0.5}\nexpect:\n"}, "t.yaml:17:32: faults[0].loss: a fault has exactly one kind; this one already is a crash (write a second fault)"},
	{"loss of 1", []string{"expect:\n", "faults:\n  - {at: 2s, loss: 1}\nexpect:\n"}, "t.yaml:17:20: faults[0].loss: must be a probability from 0 up to (not including) 1, got 1; to cut regions off use a partition fault"},
	{"partition with one group", []string{"expect:\n", "faults:\n  - {at: 2s, partition: [[eu-west-1, us-east-2]]}\nexpect:\n"}, "t.yaml:17:25: faults[0].partition: a partition needs at least two groups of regions, e.g. [[us-east-2], [eu-west-1, ap-southeast-2]]"},
	{"region twice in a partition", []string{"expect:\n", "faults:\n  - {at: 2s, partition: [[eu-west-1], [us-east-2, eu-west-1]]}\nexpect:\n"}, "t.yaml:17:51: faults[0].partition[1][1]: region \"eu-west-1\" is already in faults[0].partition[0]; a region is in one group"},
	{"policy file missing", []string{"  public-read: {", "  other: {file: nope.json}\n  public-read: {"}, "t.yaml:8:17: policies.other.file: cannot read policy file \"nope.json\" (relative to the scenario): no such file or directory"},
	{"scp target unknown", []string{"  buckets:", "  org: {scps: [{policy: deny-all, target: ou:ghost}]}\n  buckets:", "policies:\n", "policies:\n  deny-all: {Version: \"2012-10-17\", Statement: [{Effect: Deny, Action: \"*\", Resource: \"*\"}]}\n"}, "t.yaml:12:43: state.org.scps[0].target: unknown target \"ou:ghost\"; expected root, ou:NAME of an OU in state.org.ous, or an account of state.accounts"},
	{"empty empirical points", []string{"{dist: constant, value: 2s}", "{dist: empirical, points: []}"}, "t.yaml:6:38: propagation.default.points: must list at least one [seconds, cumulative_probability] pair"},
	{"empty partition", []string{"expect:\n", "faults:\n  - {at: 2s, partition: []}\nexpect:\n"}, "t.yaml:17:25: faults[0].partition: a partition needs at least two groups of regions, e.g. [[us-east-2], [eu-west-1, ap-southeast-2]]"},
	{"empty partition group", []string{"expect:\n", "faults:\n  - {at: 2s, partition: [[eu-west-1], []]}\nexpect:\n"}, "t.yaml:17:39: faults[0].partition[1]: a group lists at least one region"},
	{"no regions", []string{"regions: [us-east-2, eu-west-1]", "regions: []"}, "t.yaml:4:10: regions: must list at least one region"},
	{"no accounts for the state", []string{`accounts: ["111122223333"]`, "accounts: []"}, "t.yaml:10:13: state.accounts: must list at least one account (the first is the default and management account)"},
}
