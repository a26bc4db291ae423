package fleet

// Membership is what a node's own engine says of its place in a swarm.
type Membership struct {
	// State is Docker's local node state: inactive (in no swarm),
	// pending, active, error or locked.
	State     string
	NodeID    string
	ClusterID string
	// Managers are the managers' addresses the node knows (host:port).
	Managers []string
}

// JoinRequest joins an engine to a swarm.
type JoinRequest struct {
	Token string
	// Managers are the managers to contact (host:port).
	Managers []string
	// AdvertiseAddr is the address the node tells the others (empty:
	// Docker picks one); ListenAddr the one it listens on for the swarm.
	AdvertiseAddr, ListenAddr string
}

// JoinInfo is what a manager gives for joining its swarm.
type JoinInfo struct {
	ClusterID                 string
	WorkerToken, ManagerToken string
	Managers                  []string
}
