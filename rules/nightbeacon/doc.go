// Package nightbeacon is the night-beacon rule (ATT&CK T1071, T1573): an
// internal host that, during the site's night hours, connects to one
// external peer (or looks up one domain) again and again with a regular
// period, when that host and peer are not normally active at night.
//
// # Scoring
//
// Each (host, peer, port) pair seen at night keeps its last beats (a beat
// is a connection start; connections less than half a second apart are
// one beat) and the bytes of each. From the intervals between beats:
//
//   - the period P is their median, unless so many beats were missed that
//     the median lies outside the densest cluster of intervals (those
//     within MaxJitter of one period; of two such, the shorter): then the
//     cluster's median;
//   - each interval is divided by k = round(interval/P), so that missed
//     beats (k = 2, 3: one or two in a row) still count; an interval more
//     than √min(k,2)·MaxJitter·P away from k·P, or spanning more than two
//     missed beats, is irregular;
//   - regular = the share of regular intervals; dispersion = the median
//     absolute deviation of the normalised intervals over P; skew = their
//     Bowley skewness (as RITA does);
//   - timing = regular · (0.8·(1 − min(1, dispersion/(2·MaxJitter))) +
//     0.2·(1 − |skew|)); size = 1 − min(1, MAD/(median/2)) of the bytes;
//   - score = 0.75·timing + 0.25·size.
//
// An alert needs MinBeats beats (so it comes within MinBeats periods, or
// a beat later per missed one, not at the end of the night), all but one
// in five intervals regular and of a single period, where an interval
// that spans missed beats counts half (at five intervals: four single, or
// three single and two spanning missed beats; a chance run of a few even
// gaps in random traffic rarely passes that, and a period with holes is
// easier to fit by chance, hence the half), a period between MinPeriod
// and MaxPeriod, and a score of MinScore with a size score of at least 0.5
// (0.75 when missed beats were needed); a beacon of uneven sizes needs
// twice the beats and a timing score of MinScore. A series that failed
// the single-period test is not scored again until enough new intervals
// have come for it to pass (no period counts more of its intervals than
// Score.Cluster), nor is an alerted one until its alert is due an update
// (its count doubled), so a busy irregular pair, or a long beacon, costs
// little. Unlike RITA it needs no 24 hours of data and does not penalise a
// beacon for sleeping by day.
//
// # Episodes
//
// One alert per beacon: every beat of an alerted series keeps its episode
// open, scored or not (it closes after 4·MaxPeriod, at least 2 h, without
// a beat). A peer known by name is one episode per (host, registered
// domain), whatever the port: a beacon that looks its controller's name
// up before each beat is one night_beacon alert naming the domain and the
// address, whether its lookups or its connections pass first. Lookups
// with no connections to the domain during them (C2 over DNS, DNS
// tunnelling) are a night_dns_beacon of their own.
//
// Silent: pairs the baseline saw active at night, names the host used in
// the baseline, peers in allowed_external, and internal peers (unless
// InternalPeers).
package nightbeacon
