// Package segmentpolicy is the segment-policy rule: flows between named
// segments that the declared segment_policy does not allow. It is active
// only when the configuration declares a policy.
//
// Flows within a segment, and flows with an endpoint outside every
// segment, are not judged. A flow is judged by who opened it (the
// originator's segment to the responder's segment, the responder's port
// and transport). TCP and UDP flows only.
//
// One episode per (source segment, destination segment, port, transport)
// gathers the hosts involved, so a missing policy line gives one alert,
// not one per workstation; the alert says which line would allow it.
package segmentpolicy
