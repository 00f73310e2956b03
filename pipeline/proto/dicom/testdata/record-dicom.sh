#!/bin/bash
# How testdata/pcaps/recorded/dicom_store_find_move_get_abort.pcap was made
# (dcmtk 3.6.7, tcpdump 4.99.3, as root). It creates two network namespaces
# joined by a veth pair, runs dcmqrscp in one and the dcmtk SCUs in the
# other, captures on the PACS side, and deletes the namespaces. Nothing
# leaves the namespaces. The images are synthetic gradients; the patient is
# TEST^SYNTHETIC. Usage: record-dicom.sh OUT.pcap
set -u
OUT=$(realpath -m "${1:?output pcap}")
W=$(mktemp -d); cd "$W"
python3 - <<'PY'
import struct
def bmp(name, w, h):
    data = b''.join(bytes(v for x in range(w) for v in ((x*255)//w, (y*255)//h, (x ^ y) & 0xff)) for y in range(h))
    hdr = struct.pack('<2sIHHI', b'BM', 54+len(data), 0, 0, 54) + struct.pack('<IiiHHIIiiII', 40, w, h, 1, 24, 0, len(data), 2835, 2835, 0, 0)
    open(name, 'wb').write(hdr + data)
bmp('big.bmp', 512, 384); bmp('small.bmp', 64, 48)
PY
K="-k PatientName=TEST^SYNTHETIC -k PatientID=SYN0001 -k StudyInstanceUID=1.2.826.0.1.3680043.10.1.1 -k SeriesInstanceUID=1.2.826.0.1.3680043.10.1.1.1 -k Modality=OT -k StudyDate=20260604 -k AccessionNumber=ACC1"
img2dcm -i BMP big.bmp big.dcm $K -k SOPInstanceUID=1.2.826.0.1.3680043.10.1.1.1.1 -k InstanceNumber=1
img2dcm -i BMP small.bmp small.dcm $K -k SOPInstanceUID=1.2.826.0.1.3680043.10.1.1.1.2 -k InstanceNumber=2
mkdir -p db ct02 ws01
cat > dcmqrscp.cfg <<CFG
NetworkTCPPort  = 4242
MaxPDUSize      = 16384
MaxAssociations = 16
HostTable BEGIN
ct02 = (CT02, 10.40.1.10, 11113)
ws01 = (WS01, 10.40.1.10, 11114)
HostTable END
VendorTable BEGIN
VendorTable END
AETable BEGIN
PACS_QR  $W/db  RW  (200, 1024mb)  ANY
AETable END
CFG
A=mamori-dcmh-scu; B=mamori-dcmh-pacs
cleanup() {
  [ -n "${QR:-}" ] && kill $QR 2>/dev/null
  [ -n "${TD:-}" ] && kill $TD 2>/dev/null
  ip netns del $A 2>/dev/null; ip netns del $B 2>/dev/null; rm -rf "$W"
}
trap cleanup EXIT
ip netns add $A; ip netns add $B
ip link add vdcm-a type veth peer name vdcm-b
ip link set vdcm-a netns $A; ip link set vdcm-b netns $B
ip -n $A addr add 10.40.1.10/24 dev vdcm-a; ip -n $B addr add 10.40.1.20/24 dev vdcm-b
ip -n $A link set vdcm-a up; ip -n $B link set vdcm-b up
ip -n $A link set lo up; ip -n $B link set lo up
for n in "$A vdcm-a" "$B vdcm-b"; do set -- $n; ip netns exec $1 ethtool -K $2 tso off gso off gro off tx off rx off >/dev/null 2>&1; done
ip netns exec $B tcpdump -i vdcm-b -w $OUT -U -s 0 tcp >$W/tcpdump.log 2>&1 & TD=$!
ip netns exec $B dcmqrscp -c $W/dcmqrscp.cfg >$W/qr.log 2>&1 & QR=$!
sleep 2
X="ip netns exec $A"
P="10.40.1.20 4242"
# 1. C-ECHO, released.
$X echoscu -aet CT02 -aec PACS_QR $P
# 2. Two C-STOREs on one association (the larger spans many P-DATA PDUs).
$X storescu -aet CT02 -aec PACS_QR $P $W/big.dcm $W/small.dcm
# 3. Study Root C-FIND at STUDY level (one pending response), then IMAGE level (two).
$X findscu -S -aet WS01 -aec PACS_QR $P -k QueryRetrieveLevel=STUDY -k StudyInstanceUID -k StudyDate
$X findscu -S -aet WS01 -aec PACS_QR $P -k QueryRetrieveLevel=IMAGE -k StudyInstanceUID=1.2.826.0.1.3680043.10.1.1 -k SeriesInstanceUID=1.2.826.0.1.3680043.10.1.1.1 -k SOPInstanceUID
# 4. C-MOVE of the small image to CT02 (a sub-operation association from the PACS back to 11113).
$X movescu -S -aet CT02 -aem CT02 -aec PACS_QR --port 11113 -od $W/ct02 $P -k QueryRetrieveLevel=IMAGE -k StudyInstanceUID=1.2.826.0.1.3680043.10.1.1 -k SeriesInstanceUID=1.2.826.0.1.3680043.10.1.1.1 -k SOPInstanceUID=1.2.826.0.1.3680043.10.1.1.1.2
# 5. C-MOVE to a destination the PACS does not know: failure A801.
$X movescu -S -aet CT02 -aem EXFIL01 -aec PACS_QR $P -k QueryRetrieveLevel=STUDY -k StudyInstanceUID=1.2.826.0.1.3680043.10.1.1
# 6. C-GET of the small image (C-STORE sub-operations on the same association).
$X getscu -S -aet WS01 -aec PACS_QR -od $W/ws01 $P -k QueryRetrieveLevel=IMAGE -k StudyInstanceUID=1.2.826.0.1.3680043.10.1.1 -k SeriesInstanceUID=1.2.826.0.1.3680043.10.1.1.1 -k SOPInstanceUID=1.2.826.0.1.3680043.10.1.1.1.2
# 7. C-ECHO aborted by the requestor.
$X echoscu --abort -aet CT02 -aec PACS_QR $P
# 8. Called AE title unknown: A-ASSOCIATE-RJ.
$X echoscu -aet CT02 -aec NOSUCHAE $P
sleep 1
