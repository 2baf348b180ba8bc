// Package wire owns the Jupyter messaging protocol (version 5.3) at the byte level: the
// connection file, the multipart wire format, HMAC-SHA256 signing and verification, and the
// five ZeroMQ sockets a kernel binds.
//
// It knows nothing about Go evaluation (no yaegi here) so that the protocol can be tested and
// reasoned about on its own, and so that a malformed or forged message is rejected before any
// code that could act on it sees it. Signatures are checked over the JSON frames exactly as
// they arrived, never over a re-marshalled copy, because re-encoding can change bytes.
package wire
