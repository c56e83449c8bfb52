// Package trail decodes the records AWS CloudTrail keeps: log files as
// CloudTrail delivers them to S3 (`{"Records": [...]}`, plain or gzip) and
// the output of `aws cloudtrail lookup-events` (`{"Events": [...]}`, each
// record a JSON string in CloudTrailEvent). It also decodes the output of
// `aws iam get-account-authorization-details` (DecodeSnapshot), the state an
// account had before a trail.
//
// It is pure: it reads from the io.Reader it is given and never opens files,
// so callers choose where bytes come from. Decode streams one file's records
// to a callback; a Merger orders records from many files by eventTime (ties
// by eventID) and drops duplicate eventIDs. Every error is an *Error naming
// the file, the record and the field. docs/trails.md describes the formats.
package trail
