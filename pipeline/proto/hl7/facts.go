package hl7

// HL7Link is the sending and receiving application and facility of the
// message (MSH-3..6): what the baseline learns as an HL7 interface, read
// without importing this package (pipeline/baseline/obs.go).
func (r *Record) HL7Link() (sendingApp, sendingFacility, receivingApp, receivingFacility string) {
	if r.Message == nil {
		return "", "", "", ""
	}
	m := r.Message
	return m.SendingApplication, m.SendingFacility, m.ReceivingApplication, m.ReceivingFacility
}
