// Package maintwindow is the maintenance-window rule (ATT&CK T1133,
// T1078): vendors' remote maintenance must come from their declared
// addresses through their declared VPN router or jump host (踏み台), reach
// only the hosts they are listed for, and happen inside their approved
// windows (days and hours in the site's time zone).
//
// It reports, per vendor and finding, one episode that gathers the hosts
// involved:
//   - vendor_outside_window: traffic between the vendor's addresses and
//     the hospital, or from its via host to the hosts it may reach,
//     starting outside every approved window (with Grace either side);
//   - vendor_bypass: the vendor's addresses reaching an internal host
//     other than its via host;
//   - vendor_unlisted_host: the vendor (directly, or through its via host)
//     reaching a host it is not listed for. Traffic of the via host to
//     infrastructure servers (DNS, NTP, domain controllers…) is its own
//     business and stays silent.
//
// A session is judged by its start: one that began inside a window may
// run past its end.
package maintwindow
