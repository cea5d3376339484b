package ring

// TokenOwner is one virtual node: a token and the node that holds it.
type TokenOwner struct {
	Token uint64
	Node  string
}

// Tokens lists every virtual node in token order, for the admin ring view.
func (r *Ring) Tokens() []TokenOwner {
	out := make([]TokenOwner, len(r.tokens))
	for i, t := range r.tokens {
		out[i] = TokenOwner{Token: t, Node: r.nodes[r.owner[i]].ID}
	}
	return out
}
