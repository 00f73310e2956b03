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
//   - the period P is their median;
//   - each interval is divided by k = round(interval/P), so that a missed
//     beat (k = 2) still counts; an interval more than √k·MaxJitter·P away
//     from k·P, or spanning more than one missed beat, is irregular;
//   - regular = the share of regular intervals; dispersion = the median
//     absolute deviation of the normalised intervals over P; skew = their
//     Bowley skewness (as RITA does);
//   - timing = regular · (0.8·(1 − min(1, dispersion/(2·MaxJitter))) +
//     0.2·(1 − |skew|)); size = 1 − min(1, MAD/(median/2)) of the bytes;
//   - score = 0.75·timing + 0.25·size.
//
// An alert needs MinBeats beats (so it comes within MinBeats periods, not
// at the end of the night), all but one in five intervals regular and of a
// single period (a chance run of a few even gaps in random traffic rarely
// passes that), a
// period between MinPeriod and MaxPeriod, and a score of MinScore with a
// size score of at least 0.5; a beacon of uneven sizes needs twice the
// beats and a timing score of MinScore. A series that failed the
// single-period test is not scored again until enough new intervals have
// come for it to pass (no period counts more of its intervals than
// Score.Cluster), so a busy irregular pair costs little. Unlike
// RITA it needs no 24 hours of data and does not penalise a beacon for
// sleeping by day.
//
// Silent: pairs the baseline saw active at night, names the host used in
// the baseline, peers in allowed_external, and internal peers (unless
// InternalPeers).
package nightbeacon
