//
// GovpnTestSupport.h
//
// Shared pieces of the GoVPN integration tests: client frames in the three payload forms,
// byte-exact checks of server frames, starting the real binary with the plugin on its own
// loopback listener (docs/protocols/govpn.md), and the GoVPN reference client's harness.
//


#ifndef Switchboard_Test_GovpnTestSupport_INCLUDED
#define Switchboard_Test_GovpnTestSupport_INCLUDED


#include "TestServer.h"
#include "WsTestClient.h"
#include <string>
#include <vector>


namespace Switchboard {
namespace Test {
namespace Govpn {


inline const char* const LOOPBACK = "127.0.0.1";
constexpr int WAIT_MS = 5000;
constexpr int QUIET_MS = 300;
/// An SDP body as it appears inside JSON (escaped CR LF).
inline const std::string SDP = "v=0\\r\\no=- 46117 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\n";

enum Mode
{
	MODE_BASE64,
	MODE_OBJECT,
	MODE_STRING
};

std::string base64Encode(const std::string& bytes);
std::string base64Decode(const std::string& text);
/// Padded standard base64; throws std::runtime_error on anything else.

std::string jsonQuote(const std::string& text);
/// text as a JSON string (only " and \ are escaped: enough for our compact inner JSON).
std::string jsonUnquote(const std::string& quoted);

std::string publicKey(int index);
/// A distinct valid public key per index: the base64 of 32 bytes.

std::string payloadIn(Mode mode, const std::string& inner);
/// The value of "payload" carrying the inner JSON in mode.
std::string envelope(Mode mode, const std::string& messageId, const std::string& type, const std::string& inner);
/// A client frame carrying the inner JSON in mode (no trailing newline).
std::string serverFrame(Mode mode, const std::string& messageId, const std::string& type, const std::string& inner);
/// A server frame as the plugin writes it, with its trailing newline.

std::string receiveText(WsTestClient& client, int timeoutMs = WAIT_MS);
/// The next message, which must be a text frame (CppUnit assertion otherwise).
void expectExact(WsTestClient& client, const std::string& frame);
void expectQuiet(WsTestClient& client, int timeoutMs = QUIET_MS);
/// Asserts that nothing arrives within timeoutMs.

std::vector<std::string> expectFrame(WsTestClient& client, Mode mode, const std::string& messageId,
                                     const std::string& type, const std::string& innerTemplate);
/// Receives one frame and checks it byte for byte against the frame of innerTemplate in mode, where
/// the server-generated values are written as <ROOM> (room id), <CONN> (connection id), <NUM>
/// (an integer) and <TIME> (an RFC 3339 timestamp). Returns those values in order.

void connectWs(WsTestClient& client, TestServer& server, const WsTestClient::Headers& headers = {});
/// Upgrades to the plugin's /ws on the "govpn" listener; asserts 101.

std::string pingReply(Mode mode, const std::string& messageId, WsTestClient& client);
/// Sends Ping {timestamp:42} in mode and checks the reply byte for byte; returns server_timestamp.

std::string createRoom(WsTestClient& client, const std::string& messageId, const std::string& key,
                       const std::string& name, const std::string& password);
/// Sends an object-form CreateRoom and checks the RoomCreated reply byte for byte; returns the
/// room id.

void startGovpn(TestServer& server, const TestServer::Keys& extraKeys = {});
/// Listener "govpn" with the plugin at its root, rate_limit_burst raised to 100 (so tests that are
/// not about the per-IP limit are not slowed by it), then extraKeys; starts the server.

std::string realClientBinary(const std::string& runner);
/// The headless harness of the GoVPN reference client (govpn-client in $SWITCHBOARD_CLIENTS_DIR,
/// else in ../shared/clients beside the source tree), built with Debian's Go (installed when
/// missing) once per runner process into <build dir>/govpn-client/<runner>/. "" after printing
/// "<runner>: skipped: ..." when this checkout has no such client (a bare clone); a failed build
/// is a CppUnit assertion.

TestServer::RunResult runRealClient(const std::string& binary, const std::string& url);
/// Runs the harness against url (ws:// or wss://, the server's base: it dials <url>/ws), prints
/// its stdout and asserts that it exited 0, printed no FAIL line, and printed every step ("ok
/// connect + initial ping" ... "ok   LeaveRoom", "6 passed, 0 failed") and the connect-time
/// UserRooms and ClientIPInfo pushes reaching both clients' handlers. The harness opens the
/// owner's connection first and the peer's second, each after the previous one's Ping reply.


} // namespace Govpn
} // namespace Test
} // namespace Switchboard


#endif
