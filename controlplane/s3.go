package controlplane

import (
	"regexp"
	"strings"

	"github.com/iamprop/iamprop/evaluator"
)

const (
	maxBucketPolicySize = 20 * 1024 // bytes of a bucket policy
	maxObjectKeyLength  = 1024      // bytes of an object key
	defaultBucketRegion = "us-east-1"
)

var bucketNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

type bucketArgs struct {
	Bucket string `arg:"bucket,required" doc:"Name of the bucket (Bucket)."`
}

type createBucketArgs struct {
	Bucket             string `arg:"bucket,required" doc:"Name of the bucket (Bucket): 3 to 63 lowercase letters, digits, dots and hyphens, globally unique."`
	LocationConstraint string `arg:"location_constraint" doc:"Home region of the bucket (CreateBucketConfiguration.LocationConstraint); default the call's origin region, else us-east-1."`
}

type bucketPolicyArgs struct {
	Bucket string   `arg:"bucket,required" doc:"Name of the bucket (Bucket)."`
	Policy Document `arg:"policy,required" doc:"The bucket policy (Policy); replaces any existing one."`
}

type bucketBPAArgs struct {
	Bucket                string `arg:"bucket,required" doc:"Name of the bucket (Bucket)."`
	BlockPublicAcls       bool   `arg:"block_public_acls" doc:"PublicAccessBlockConfiguration.BlockPublicAcls; default false."`
	IgnorePublicAcls      bool   `arg:"ignore_public_acls" doc:"PublicAccessBlockConfiguration.IgnorePublicAcls; default false."`
	BlockPublicPolicy     bool   `arg:"block_public_policy" doc:"PublicAccessBlockConfiguration.BlockPublicPolicy: reject PutBucketPolicy of a public policy; default false."`
	RestrictPublicBuckets bool   `arg:"restrict_public_buckets" doc:"PublicAccessBlockConfiguration.RestrictPublicBuckets: a public bucket policy grants only to principals of the owner account and AWS services; default false."`
}

type accountBPAArgs struct {
	AccountID             string `arg:"account_id" doc:"The account (AccountId); default the calling account."`
	BlockPublicAcls       bool   `arg:"block_public_acls" doc:"PublicAccessBlockConfiguration.BlockPublicAcls; default false."`
	IgnorePublicAcls      bool   `arg:"ignore_public_acls" doc:"PublicAccessBlockConfiguration.IgnorePublicAcls; default false."`
	BlockPublicPolicy     bool   `arg:"block_public_policy" doc:"PublicAccessBlockConfiguration.BlockPublicPolicy; default false."`
	RestrictPublicBuckets bool   `arg:"restrict_public_buckets" doc:"PublicAccessBlockConfiguration.RestrictPublicBuckets; default false."`
}

type accountIDArgs struct {
	AccountID string `arg:"account_id" doc:"The account (AccountId); default the calling account."`
}

type objectArgs struct {
	Bucket string `arg:"bucket,required" doc:"Name of the bucket (Bucket)."`
	Key    string `arg:"key,required" doc:"Object key (Key)."`
}

func bpaOf(a, b, c, d bool) *evaluator.BlockPublicAccess {
	return &evaluator.BlockPublicAccess{BlockPublicAcls: a, IgnorePublicAcls: b, BlockPublicPolicy: c, RestrictPublicBuckets: d}
}

func anyTrue(b *evaluator.BlockPublicAccess) bool {
	return b.BlockPublicAcls || b.IgnorePublicAcls || b.BlockPublicPolicy || b.RestrictPublicBuckets
}

func s3Calls() []*callDef {
	return []*callDef{
		def("s3:CreateBucket", "Creates a bucket owned by the calling account, homed in location_constraint or the call's origin region.",
			[]string{ErrInvalidBucketName, ErrBucketAlreadyExists, ErrBucketAlreadyOwnedByYou, ErrNoSuchEntity}, "", nil, checkCreateBucket),
		def("s3:DeleteBucket", "Deletes an empty bucket; its name becomes free again.",
			[]string{ErrNoSuchBucket, "BucketNotEmpty", "MethodNotAllowed"}, "revoke", always[bucketArgs], checkDeleteBucket),
		def("s3:PutBucketPolicy", "Sets or replaces a bucket's policy. A public policy is refused while Block Public Access (bucket or account) has BlockPublicPolicy on.",
			[]string{ErrNoSuchBucket, ErrMalformedPolicy, ErrAccessDenied, "MethodNotAllowed"}, "revoke (replaces a document)", always[bucketPolicyArgs], checkPutBucketPolicy),
		def("s3:DeleteBucketPolicy", "Deletes a bucket's policy (succeeds when there is none).",
			[]string{ErrNoSuchBucket, "MethodNotAllowed"}, "revoke", always[bucketArgs], checkDeleteBucketPolicy),
		def("s3:PutPublicAccessBlock", "Sets a bucket's Block Public Access configuration; arguments left out are false.",
			[]string{ErrNoSuchBucket, "MethodNotAllowed"}, "revoke when any setting is true, else grant",
			func(a *bucketBPAArgs) bool {
				return anyTrue(bpaOf(a.BlockPublicAcls, a.IgnorePublicAcls, a.BlockPublicPolicy, a.RestrictPublicBuckets))
			}, checkPutBucketBPA),
		def("s3:DeletePublicAccessBlock", "Removes a bucket's Block Public Access configuration.",
			[]string{ErrNoSuchBucket, "MethodNotAllowed"}, "grant (removes a restriction)", nil, checkDeleteBucketBPA),
		def("s3control:PutPublicAccessBlock", "Sets an account's Block Public Access configuration, which applies to every bucket of the account on top of the bucket's own (the most restrictive wins).",
			[]string{ErrNoSuchEntity, ErrAccessDenied}, "revoke when any setting is true, else grant",
			func(a *accountBPAArgs) bool {
				return anyTrue(bpaOf(a.BlockPublicAcls, a.IgnorePublicAcls, a.BlockPublicPolicy, a.RestrictPublicBuckets))
			}, checkPutAccountBPA),
		def("s3control:DeletePublicAccessBlock", "Removes an account's Block Public Access configuration.",
			[]string{ErrNoSuchEntity, ErrAccessDenied}, "grant (removes a restriction)", nil, checkDeleteAccountBPA),
		def("s3:PutObject", "Stores an object (its content is not modelled, only its existence). A data-plane write: in force in the bucket's region at once, no propagation delay.",
			[]string{ErrNoSuchBucket, ErrS3InvalidArgument}, "", nil, checkPutObject),
		def("s3:DeleteObject", "Deletes an object (succeeds when there is none). A data-plane write: in force in the bucket's region at once, no propagation delay.",
			[]string{ErrNoSuchBucket, ErrS3InvalidArgument}, "revoke", always[objectArgs], checkDeleteObject),
	}
}

func checkCreateBucket(s *State, x *callCtx, a *createBucketArgs) (applyFn, *APIError) {
	if !bucketNameRE.MatchString(a.Bucket) || strings.Contains(a.Bucket, "..") {
		return nil, apiErr(ErrInvalidBucketName, "%s: bucket: %q is not a valid bucket name (3 to 63 lowercase letters, digits, dots and hyphens, beginning and ending with a letter or digit)", x.call.Action, a.Bucket)
	}
	acct, err := s.callerAccount(x)
	if err != nil {
		return nil, err
	}
	if b, ok := s.buckets.get(a.Bucket); ok {
		if b.Account == acct {
			return nil, apiErr(ErrBucketAlreadyOwnedByYou, "%s: bucket: your account %s already owns bucket %s", x.call.Action, acct, a.Bucket)
		}
		return nil, apiErr(ErrBucketAlreadyExists, "%s: bucket: the bucket name %s is taken (bucket names are global); choose another", x.call.Action, a.Bucket)
	}
	region := a.LocationConstraint
	if region == "" {
		region = x.call.Region
	}
	if region == "" {
		region = defaultBucketRegion
	}
	return func(s *State) {
		s.buckets.set(a.Bucket, &bucket{Name: a.Bucket, Region: region, Account: acct})
	}, nil
}

// ownBucket finds a bucket the caller may configure. A call that names no
// account acts as the bucket's owner.
func (s *State) ownBucket(x *callCtx, name string) (*bucket, *APIError) {
	b, ok := s.buckets.get(name)
	if !ok {
		return nil, apiErr(ErrNoSuchBucket, "%s: bucket: the specified bucket %s does not exist", x.call.Action, name)
	}
	if x.account != "" && x.account != b.Account {
		return nil, apiErr("MethodNotAllowed", "%s: bucket: only the owner account %s can configure bucket %s, not account %s", x.call.Action, b.Account, name, x.account)
	}
	return b, nil
}

func checkPutBucketPolicy(s *State, x *callCtx, a *bucketPolicyArgs) (applyFn, *APIError) {
	b, err := s.ownBucket(x, a.Bucket)
	if err != nil {
		return nil, err
	}
	if len(a.Policy) > maxBucketPolicySize {
		return nil, apiErr(ErrMalformedPolicy, "%s: policy: policies must be less than 20 KB (this one is %d bytes)", x.call.Action, len(a.Policy))
	}
	pol, err := compile(ErrMalformedPolicy, x.call.Action+": policy", "bucket policy of "+a.Bucket, evaluator.KindResource, a.Policy)
	if err != nil {
		return nil, err
	}
	if pol.IsPublic() && s.effectiveBPA(b).BlockPublicPolicy {
		return nil, apiErr(ErrAccessDenied, "%s: policy: the policy is public and Block Public Access (BlockPublicPolicy) is on for bucket %s or its account %s", x.call.Action, a.Bucket, b.Account)
	}
	return func(s *State) {
		n := *b
		n.Policy = pol
		s.buckets.set(b.Name, &n)
	}, nil
}

func checkDeleteBucketPolicy(s *State, x *callCtx, a *bucketArgs) (applyFn, *APIError) {
	b, err := s.ownBucket(x, a.Bucket)
	if err != nil {
		return nil, err
	}
	return func(s *State) {
		if b.Policy == nil {
			return
		}
		n := *b
		n.Policy = nil
		s.buckets.set(b.Name, &n)
		s.tomb("bucket-policy", b.Name)
	}, nil
}

func checkPutBucketBPA(s *State, x *callCtx, a *bucketBPAArgs) (applyFn, *APIError) {
	b, err := s.ownBucket(x, a.Bucket)
	if err != nil {
		return nil, err
	}
	cfg := bpaOf(a.BlockPublicAcls, a.IgnorePublicAcls, a.BlockPublicPolicy, a.RestrictPublicBuckets)
	return func(s *State) {
		n := *b
		n.BPA = cfg
		s.buckets.set(b.Name, &n)
	}, nil
}

func checkDeleteBucketBPA(s *State, x *callCtx, a *bucketArgs) (applyFn, *APIError) {
	b, err := s.ownBucket(x, a.Bucket)
	if err != nil {
		return nil, err
	}
	return func(s *State) {
		if b.BPA == nil {
			return
		}
		n := *b
		n.BPA = nil
		s.buckets.set(b.Name, &n)
		s.tomb("bucket-bpa", b.Name)
	}, nil
}

// bpaAccount resolves s3control's account_id: a caller may configure only
// its own account.
func (s *State) bpaAccount(x *callCtx, id string) (*account, *APIError) {
	caller := x.account
	if id == "" {
		id = caller
	}
	if id == "" {
		id = s.DefaultAccount()
	}
	a, ok := s.accounts.get(id)
	if !ok {
		return nil, apiErr(ErrNoSuchEntity, "%s: account_id: account %q does not exist in this view", x.call.Action, id)
	}
	if caller != "" && caller != id {
		return nil, apiErr(ErrAccessDenied, "%s: account_id: account %s cannot configure Block Public Access of account %s", x.call.Action, caller, id)
	}
	return a, nil
}

func checkPutAccountBPA(s *State, x *callCtx, a *accountBPAArgs) (applyFn, *APIError) {
	acct, err := s.bpaAccount(x, a.AccountID)
	if err != nil {
		return nil, err
	}
	cfg := bpaOf(a.BlockPublicAcls, a.IgnorePublicAcls, a.BlockPublicPolicy, a.RestrictPublicBuckets)
	return func(s *State) {
		n := *acct
		n.BPA = cfg
		s.accounts.set(n.ID, &n)
	}, nil
}

func checkDeleteAccountBPA(s *State, x *callCtx, a *accountIDArgs) (applyFn, *APIError) {
	acct, err := s.bpaAccount(x, a.AccountID)
	if err != nil {
		return nil, err
	}
	return func(s *State) {
		if acct.BPA == nil {
			return
		}
		n := *acct
		n.BPA = nil
		s.accounts.set(n.ID, &n)
		s.tomb("account-bpa", n.ID)
	}, nil
}

func checkObject(s *State, x *callCtx, a *objectArgs) *APIError {
	if _, ok := s.buckets.get(a.Bucket); !ok {
		return apiErr(ErrNoSuchBucket, "%s: bucket: the specified bucket %s does not exist", x.call.Action, a.Bucket)
	}
	if len(a.Key) > maxObjectKeyLength {
		return apiErr(ErrS3InvalidArgument, "%s: key: object keys are at most %d bytes, this one is %d", x.call.Action, maxObjectKeyLength, len(a.Key))
	}
	return nil
}

func checkPutObject(s *State, x *callCtx, a *objectArgs) (applyFn, *APIError) {
	if err := checkObject(s, x, a); err != nil {
		return nil, err
	}
	return func(s *State) { s.objects.set(a.Bucket+"/"+a.Key, struct{}{}) }, nil
}

func checkDeleteObject(s *State, x *callCtx, a *objectArgs) (applyFn, *APIError) {
	if err := checkObject(s, x, a); err != nil {
		return nil, err
	}
	return func(s *State) {
		k := a.Bucket + "/" + a.Key
		if _, ok := s.objects.get(k); ok {
			s.objects.del(k)
			s.tomb("object", k)
		}
	}, nil
}

func checkDeleteBucket(s *State, x *callCtx, a *bucketArgs) (applyFn, *APIError) {
	b, err := s.ownBucket(x, a.Bucket)
	if err != nil {
		return nil, err
	}
	prefix, first, n := a.Bucket+"/", "", 0
	for k := range s.objects.all() {
		if strings.HasPrefix(k, prefix) {
			if n == 0 || k < first {
				first = k // the smallest key, so the message is deterministic
			}
			n++
		}
	}
	if n > 0 {
		return nil, apiErr("BucketNotEmpty", "%s: bucket: bucket %s still holds %d objects (%s, ...); delete them first", x.call.Action, a.Bucket, n, strings.TrimPrefix(first, prefix))
	}
	return func(s *State) {
		s.buckets.del(b.Name)
		s.tomb("bucket", b.Name)
	}, nil
}
