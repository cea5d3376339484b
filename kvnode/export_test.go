package kvnode

// Crash stops n as a kill would look to its peers: no gossip leave.
func Crash(n *Node) error { return n.crash() }
