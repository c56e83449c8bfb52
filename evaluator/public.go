package evaluator

import "strings"

// IsPublic reports whether the policy is "public" in Amazon S3's sense (the
// definition S3 Block Public Access uses): some Allow statement grants to a
// wildcard principal ("*", {"AWS": "*"}) or via NotPrincipal, unless a
// condition pins it to fixed values of a key S3 accepts as limiting
// (aws:SourceIp ranges narrower than the whole internet, aws:SourceArn,
// aws:SourceVpc, aws:SourceVpce, aws:SourceAccount, aws:SourceOwner,
// aws:PrincipalOrgID, aws:PrincipalAccount, aws:PrincipalArn, aws:userid,
// s3:DataAccessPointArn, s3:DataAccessPointAccount,
// s3:x-amz-server-side-encryption-aws-kms-key-id). Only resource
// policies can be public.
func (p *Policy) IsPublic() bool { return p.public }

// limitingKeys are the condition keys whose fixed values make a wildcard
// grant non-public.
var limitingKeys = map[string]bool{
	"aws:sourceip": true, "aws:sourcearn": true, "aws:sourcevpc": true, "aws:sourcevpce": true,
	"aws:sourceaccount": true, "aws:sourceowner": true, "aws:principalorgid": true,
	"aws:principalaccount": true, "aws:principalarn": true, "aws:userid": true,
	"s3:dataaccesspointarn": true, "s3:dataaccesspointaccount": true,
	"s3:x-amz-server-side-encryption-aws-kms-key-id": true,
}

func computePublic(p *Policy) bool {
	for i := range p.stmts {
		s := &p.stmts[i]
		if s.deny || s.principal == nil {
			continue
		}
		if !s.notPrincipal && !s.principal.star {
			continue
		}
		if !limited(s.conds) {
			return true
		}
	}
	return false
}

// limited: some positive condition pins a limiting key to fixed values
// (no wildcard, no variable, not a negated operator, not IfExists).
func limited(conds []condition) bool {
	for i := range conds {
		c := &conds[i]
		if c.info.negate || c.ifExists || c.set == setAll || !limitingKeys[c.lkey] {
			continue
		}
		fixed := true
		for _, v := range c.vals {
			switch c.info.fam {
			case famIP:
				// a range that covers a huge part of the internet is not a
				// limit; S3 treats /0 as public, we also treat anything wider than /8.
				if (v.pfx.Addr().Is4() && v.pfx.Bits() < 8) || (v.pfx.Addr().Is6() && v.pfx.Bits() < 32) {
					fixed = false
				}
			case famString, famStringFold, famARN, famStringLike:
				if strings.ContainsAny(v.raw, "*?") || v.pat.hasVar {
					fixed = false
				}
			default:
				fixed = false
			}
		}
		if fixed {
			return true
		}
	}
	return false
}
