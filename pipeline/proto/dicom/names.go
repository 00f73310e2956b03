package dicom

import "strconv"

// sopClasses names the SOP classes a hospital network commonly carries, by
// UID, with their PS3.6 Annex A names. Unknown UIDs are emitted as UIDs
// only. The table is read-only.
var sopClasses = map[string]string{
	"1.2.840.10008.1.1":    "Verification SOP Class",
	"1.2.840.10008.1.20.1": "Storage Commitment Push Model SOP Class",
	"1.2.840.10008.1.40":   "Procedural Event Logging SOP Class",
	"1.2.840.10008.1.9":    "Basic Study Content Notification SOP Class (Retired)",

	"1.2.840.10008.3.1.2.3.3": "Modality Performed Procedure Step SOP Class",
	"1.2.840.10008.3.1.2.3.4": "Modality Performed Procedure Step Retrieve SOP Class",
	"1.2.840.10008.3.1.2.3.5": "Modality Performed Procedure Step Notification SOP Class",

	"1.2.840.10008.5.1.4.31":     "Modality Worklist Information Model - FIND",
	"1.2.840.10008.5.1.4.33":     "Instance Availability Notification SOP Class",
	"1.2.840.10008.5.1.4.34.6.1": "Unified Procedure Step - Push SOP Class",
	"1.2.840.10008.5.1.4.34.6.2": "Unified Procedure Step - Watch SOP Class",
	"1.2.840.10008.5.1.4.34.6.3": "Unified Procedure Step - Pull SOP Class",
	"1.2.840.10008.5.1.4.34.6.4": "Unified Procedure Step - Event SOP Class",

	"1.2.840.10008.5.1.4.1.2.1.1": "Patient Root Query/Retrieve Information Model - FIND",
	"1.2.840.10008.5.1.4.1.2.1.2": "Patient Root Query/Retrieve Information Model - MOVE",
	"1.2.840.10008.5.1.4.1.2.1.3": "Patient Root Query/Retrieve Information Model - GET",
	"1.2.840.10008.5.1.4.1.2.2.1": "Study Root Query/Retrieve Information Model - FIND",
	"1.2.840.10008.5.1.4.1.2.2.2": "Study Root Query/Retrieve Information Model - MOVE",
	"1.2.840.10008.5.1.4.1.2.2.3": "Study Root Query/Retrieve Information Model - GET",
	"1.2.840.10008.5.1.4.1.2.3.1": "Patient/Study Only Query/Retrieve Information Model - FIND (Retired)",
	"1.2.840.10008.5.1.4.1.2.3.2": "Patient/Study Only Query/Retrieve Information Model - MOVE (Retired)",
	"1.2.840.10008.5.1.4.1.2.3.3": "Patient/Study Only Query/Retrieve Information Model - GET (Retired)",
	"1.2.840.10008.5.1.4.1.2.4.2": "Composite Instance Root Retrieve - MOVE",
	"1.2.840.10008.5.1.4.1.2.4.3": "Composite Instance Root Retrieve - GET",
	"1.2.840.10008.5.1.4.1.2.5.3": "Composite Instance Retrieve Without Bulk Data - GET",

	"1.2.840.10008.5.1.1.1":  "Basic Film Session SOP Class",
	"1.2.840.10008.5.1.1.2":  "Basic Film Box SOP Class",
	"1.2.840.10008.5.1.1.4":  "Basic Grayscale Image Box SOP Class",
	"1.2.840.10008.5.1.1.9":  "Basic Grayscale Print Management Meta SOP Class",
	"1.2.840.10008.5.1.1.16": "Printer SOP Class",
	"1.2.840.10008.5.1.1.18": "Basic Color Print Management Meta SOP Class",

	"1.2.840.10008.5.1.4.1.1.1":      "Computed Radiography Image Storage",
	"1.2.840.10008.5.1.4.1.1.1.1":    "Digital X-Ray Image Storage - For Presentation",
	"1.2.840.10008.5.1.4.1.1.1.1.1":  "Digital X-Ray Image Storage - For Processing",
	"1.2.840.10008.5.1.4.1.1.1.2":    "Digital Mammography X-Ray Image Storage - For Presentation",
	"1.2.840.10008.5.1.4.1.1.1.2.1":  "Digital Mammography X-Ray Image Storage - For Processing",
	"1.2.840.10008.5.1.4.1.1.1.3":    "Digital Intra-Oral X-Ray Image Storage - For Presentation",
	"1.2.840.10008.5.1.4.1.1.1.3.1":  "Digital Intra-Oral X-Ray Image Storage - For Processing",
	"1.2.840.10008.5.1.4.1.1.2":      "CT Image Storage",
	"1.2.840.10008.5.1.4.1.1.2.1":    "Enhanced CT Image Storage",
	"1.2.840.10008.5.1.4.1.1.3.1":    "Ultrasound Multi-frame Image Storage",
	"1.2.840.10008.5.1.4.1.1.4":      "MR Image Storage",
	"1.2.840.10008.5.1.4.1.1.4.1":    "Enhanced MR Image Storage",
	"1.2.840.10008.5.1.4.1.1.4.2":    "MR Spectroscopy Storage",
	"1.2.840.10008.5.1.4.1.1.6.1":    "Ultrasound Image Storage",
	"1.2.840.10008.5.1.4.1.1.7":      "Secondary Capture Image Storage",
	"1.2.840.10008.5.1.4.1.1.7.1":    "Multi-frame Single Bit Secondary Capture Image Storage",
	"1.2.840.10008.5.1.4.1.1.7.2":    "Multi-frame Grayscale Byte Secondary Capture Image Storage",
	"1.2.840.10008.5.1.4.1.1.7.3":    "Multi-frame Grayscale Word Secondary Capture Image Storage",
	"1.2.840.10008.5.1.4.1.1.7.4":    "Multi-frame True Color Secondary Capture Image Storage",
	"1.2.840.10008.5.1.4.1.1.9.1.1":  "12-lead ECG Waveform Storage",
	"1.2.840.10008.5.1.4.1.1.9.1.2":  "General ECG Waveform Storage",
	"1.2.840.10008.5.1.4.1.1.9.1.3":  "Ambulatory ECG Waveform Storage",
	"1.2.840.10008.5.1.4.1.1.11.1":   "Grayscale Softcopy Presentation State Storage",
	"1.2.840.10008.5.1.4.1.1.12.1":   "X-Ray Angiographic Image Storage",
	"1.2.840.10008.5.1.4.1.1.12.2":   "X-Ray Radiofluoroscopic Image Storage",
	"1.2.840.10008.5.1.4.1.1.13.1.3": "Breast Tomosynthesis Image Storage",
	"1.2.840.10008.5.1.4.1.1.20":     "Nuclear Medicine Image Storage",
	"1.2.840.10008.5.1.4.1.1.66":     "Raw Data Storage",
	"1.2.840.10008.5.1.4.1.1.66.4":   "Segmentation Storage",
	"1.2.840.10008.5.1.4.1.1.77.1.1": "VL Endoscopic Image Storage",
	"1.2.840.10008.5.1.4.1.1.77.1.4": "VL Photographic Image Storage",
	"1.2.840.10008.5.1.4.1.1.88.11":  "Basic Text SR Storage",
	"1.2.840.10008.5.1.4.1.1.88.22":  "Enhanced SR Storage",
	"1.2.840.10008.5.1.4.1.1.88.33":  "Comprehensive SR Storage",
	"1.2.840.10008.5.1.4.1.1.88.59":  "Key Object Selection Document Storage",
	"1.2.840.10008.5.1.4.1.1.88.67":  "X-Ray Radiation Dose SR Storage",
	"1.2.840.10008.5.1.4.1.1.104.1":  "Encapsulated PDF Storage",
	"1.2.840.10008.5.1.4.1.1.128":    "Positron Emission Tomography Image Storage",
	"1.2.840.10008.5.1.4.1.1.130":    "Enhanced PET Image Storage",
	"1.2.840.10008.5.1.4.1.1.481.1":  "RT Image Storage",
	"1.2.840.10008.5.1.4.1.1.481.2":  "RT Dose Storage",
	"1.2.840.10008.5.1.4.1.1.481.3":  "RT Structure Set Storage",
	"1.2.840.10008.5.1.4.1.1.481.5":  "RT Plan Storage",
	"1.2.840.10008.5.1.4.1.1.481.8":  "RT Ion Plan Storage",
	"1.2.840.10008.5.1.4.1.1.11.4":   "Blending Softcopy Presentation State Storage",
	"1.2.840.10008.5.1.4.1.1.88.65":  "Chest CAD SR Storage",
	"1.2.840.10008.5.1.4.1.1.9.4.1":  "Basic Voice Audio Waveform Storage",
	"1.2.840.10008.5.1.4.1.1.9.3.1":  "Cardiac Electrophysiology Waveform Storage",
	"1.2.840.10008.5.1.4.1.1.88.50":  "Mammography CAD SR Storage",
}

// sopClassName returns the name of a SOP class UID, or "" when unknown.
func sopClassName(uid string) string { return sopClasses[uid] }

// DIMSE command fields (PS3.7 §E.1, Table E.1-1).
const (
	cmdCStoreRQ  = 0x0001
	cmdCGetRQ    = 0x0010
	cmdCFindRQ   = 0x0020
	cmdCMoveRQ   = 0x0021
	cmdCEchoRQ   = 0x0030
	cmdNEventRQ  = 0x0100
	cmdNGetRQ    = 0x0110
	cmdNSetRQ    = 0x0120
	cmdNActionRQ = 0x0130
	cmdNCreateRQ = 0x0140
	cmdNDeleteRQ = 0x0150
	cmdCCancelRQ = 0x0FFF
	cmdResponse  = 0x8000 // bit set in every -RSP
)

// kinds are the DIMSE services in the order the association record lists
// them; kindOf maps a command field (request or response) to an index.
var kinds = [...]string{
	"C-STORE", "C-GET", "C-FIND", "C-MOVE", "C-ECHO",
	"N-EVENT-REPORT", "N-GET", "N-SET", "N-ACTION", "N-CREATE", "N-DELETE",
	"C-CANCEL",
}

const numKinds = len(kinds)

// kindOf returns the kind index of command field f and whether f is known.
func kindOf(f uint16) (int, bool) {
	switch f &^ cmdResponse {
	case cmdCStoreRQ:
		return 0, true
	case cmdCGetRQ:
		return 1, true
	case cmdCFindRQ:
		return 2, true
	case cmdCMoveRQ:
		return 3, true
	case cmdCEchoRQ:
		return 4, true
	case cmdNEventRQ:
		return 5, true
	case cmdNGetRQ:
		return 6, true
	case cmdNSetRQ:
		return 7, true
	case cmdNActionRQ:
		return 8, true
	case cmdNCreateRQ:
		return 9, true
	case cmdNDeleteRQ:
		return 10, true
	case cmdCCancelRQ:
		if f&cmdResponse == 0 {
			return 11, true
		}
	}
	return 0, false
}

// Status categories (PS3.7 Annex C).
const (
	statusSuccess = "success"
	statusPending = "pending"
	statusCancel  = "cancel"
	statusWarning = "warning"
	statusFailure = "failure"
)

// statusCategory classifies a DIMSE status code (PS3.7 §C.1-C.5 and the
// service-specific codes of PS3.4).
func statusCategory(s uint16) string {
	switch {
	case s == 0x0000:
		return statusSuccess
	case s == 0xFF00 || s == 0xFF01:
		return statusPending
	case s == 0xFE00:
		return statusCancel
	case s == 0x0001 || s == 0x0107 || s == 0x0116 || s&0xF000 == 0xB000:
		return statusWarning
	}
	return statusFailure
}

// statusName names the well-known status codes; "" for others.
func statusName(s uint16) string {
	switch s {
	case 0x0000:
		return "success"
	case 0xFF00:
		return "pending"
	case 0xFF01:
		return "pending, optional keys not supported"
	case 0xFE00:
		return "cancel"
	case 0x0001:
		return "requested optional attributes are not supported"
	case 0x0107:
		return "attribute list error"
	case 0x0116:
		return "attribute value out of range"
	case 0xB000:
		return "coercion of data elements or sub-operations failed"
	case 0xB006:
		return "elements discarded"
	case 0xB007:
		return "data set does not match sop class"
	case 0x0105:
		return "no such attribute"
	case 0x0106:
		return "invalid attribute value"
	case 0x0110:
		return "processing failure"
	case 0x0111:
		return "duplicate sop instance"
	case 0x0112:
		return "no such sop instance"
	case 0x0113:
		return "no such event type"
	case 0x0114:
		return "no such argument"
	case 0x0115:
		return "invalid argument value"
	case 0x0117:
		return "invalid object instance"
	case 0x0118:
		return "no such sop class"
	case 0x0119:
		return "class-instance conflict"
	case 0x0120:
		return "missing attribute"
	case 0x0121:
		return "missing attribute value"
	case 0x0122:
		return "sop class not supported"
	case 0x0123:
		return "no such action"
	case 0x0124:
		return "not authorized"
	case 0x0210:
		return "duplicate invocation"
	case 0x0211:
		return "unrecognized operation"
	case 0x0212:
		return "mistyped argument"
	case 0x0213:
		return "resource limitation"
	case 0xA700:
		return "out of resources"
	case 0xA701:
		return "out of resources, unable to calculate number of matches"
	case 0xA702:
		return "out of resources, unable to perform sub-operations"
	case 0xA801:
		return "move destination unknown"
	case 0xA900:
		return "identifier does not match sop class"
	case 0xC000:
		return "unable to process"
	}
	switch s & 0xFF00 {
	case 0xA700:
		return "out of resources"
	case 0xA900:
		return "data set does not match sop class"
	}
	if s&0xF000 == 0xC000 {
		return "cannot understand"
	}
	return ""
}

// hex4 formats a status code as "0xA700".
func hex4(v uint16) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{'0', 'x', digits[v>>12], digits[v>>8&0xf], digits[v>>4&0xf], digits[v&0xf]})
}

// contextResult names an A-ASSOCIATE-AC presentation context result
// (PS3.8 §9.3.3.2).
func contextResult(r byte) string {
	switch r {
	case 0:
		return "acceptance"
	case 1:
		return "user-rejection"
	case 2:
		return "no-reason"
	case 3:
		return "abstract-syntax-not-supported"
	case 4:
		return "transfer-syntaxes-not-supported"
	}
	return "unknown-" + strconv.Itoa(int(r))
}

// rejectResult, rejectSource and rejectReason name A-ASSOCIATE-RJ fields
// (PS3.8 §9.3.4, Table 9-21).
func rejectResult(r byte) string {
	switch r {
	case 1:
		return "rejected-permanent"
	case 2:
		return "rejected-transient"
	}
	return "unknown-" + strconv.Itoa(int(r))
}

func rejectSource(s byte) string {
	switch s {
	case 1:
		return "service-user"
	case 2:
		return "service-provider-acse"
	case 3:
		return "service-provider-presentation"
	}
	return "unknown-" + strconv.Itoa(int(s))
}

func rejectReason(source, r byte) string {
	switch source {
	case 1:
		switch r {
		case 1:
			return "no-reason-given"
		case 2:
			return "application-context-name-not-supported"
		case 3:
			return "calling-ae-title-not-recognized"
		case 7:
			return "called-ae-title-not-recognized"
		}
	case 2:
		switch r {
		case 1:
			return "no-reason-given"
		case 2:
			return "protocol-version-not-supported"
		}
	case 3:
		switch r {
		case 1:
			return "temporary-congestion"
		case 2:
			return "local-limit-exceeded"
		}
	}
	return "reserved-" + strconv.Itoa(int(r))
}

// abortSource and abortReason name A-ABORT fields (PS3.8 §9.3.8, Table 9-26).
func abortSource(s byte) string {
	switch s {
	case 0:
		return "service-user"
	case 2:
		return "service-provider"
	}
	return "reserved-" + strconv.Itoa(int(s))
}

func abortReason(source, r byte) string {
	if source != 2 {
		return "" // "not significant" unless the provider aborted
	}
	switch r {
	case 0:
		return "reason-not-specified"
	case 1:
		return "unrecognized-pdu"
	case 2:
		return "unexpected-pdu"
	case 4:
		return "unrecognized-pdu-parameter"
	case 5:
		return "unexpected-pdu-parameter"
	case 6:
		return "invalid-pdu-parameter-value"
	}
	return "reserved-" + strconv.Itoa(int(r))
}

// userIdentityType names the user identity negotiation type (PS3.7 §D.3.3.7).
func userIdentityType(t byte) string {
	switch t {
	case 1:
		return "username"
	case 2:
		return "username-and-passcode"
	case 3:
		return "kerberos"
	case 4:
		return "saml"
	case 5:
		return "jwt"
	}
	return "unknown-" + strconv.Itoa(int(t))
}
