// Package replay turns a CloudTrail trail (package trail) into an iamprop
// scenario and reads the scenario runner's measurements back as the
// trail's windows and suspect requests.
//
// Map classifies every record: a state change becomes the control-plane
// call of docs/mutations.md at its eventTime, committed where AWS commits
// it (IAM and Organizations in us-east-1, an S3 bucket's configuration in
// the bucket's region); a failed call is skipped; an event iamprop does not
// model is counted by name; a successful request becomes a candidate
// suspect. Analyze replays the changes in trail order on the truth to find
// which (principal, action, resource) each change revoked or granted and
// which requests succeeded while the truth already denied them, and writes
// the scenario (YAML) whose probes measure those windows. Result folds the
// runner's per-trial samples into windows and probabilities.
//
// It is pure: no IO, no clock; the caller runs the scenario.
package replay
