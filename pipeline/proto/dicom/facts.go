package dicom

// DICOMAssociation is the calling and called AE titles of an association
// record (empty for failure records): what the baseline learns as a DICOM
// path, read without importing this package (pipeline/baseline/obs.go).
func (r *Record) DICOMAssociation() (calling, called string) {
	if r.Assoc == nil {
		return "", ""
	}
	return r.Assoc.CallingAE, r.Assoc.CalledAE
}
