//
// TestTls.h
//
// TLS for tests: a certificate authority made by the test (EC P-256, in memory, written as PEM
// files) and a blocking TLS client that verifies the server against it.
//


#ifndef Switchboard_Test_TestTls_INCLUDED
#define Switchboard_Test_TestTls_INCLUDED


#include <memory>
#include <string>


typedef struct evp_pkey_st EVP_PKEY;
typedef struct x509_st X509;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;


namespace Switchboard {
namespace Test {


class TestCa
/// A CA certificate and key, made at construction. issue() writes a server certificate for
/// "localhost", 127.0.0.1 and ::1 signed by it, with its own key. Throws std::runtime_error.
{
public:
	explicit TestCa(const std::string& name = "Switchboard Test CA");
	~TestCa();

	TestCa(const TestCa&) = delete;
	TestCa& operator=(const TestCa&) = delete;

	void writeCertificate(const std::string& path) const;
	/// The CA certificate as PEM (what clients trust).

	void issue(const std::string& commonName, long serial, const std::string& certificatePath,
	           const std::string& keyPath) const;
	/// A server certificate valid from an hour ago for two days, and its private key.

	static void writeSelfSignedPair(const std::string& commonName, const std::string& certificatePath,
	                                const std::string& keyPath);
	/// An unrelated certificate and key (to pair a key with the wrong certificate).

private:
	EVP_PKEY* _key;
	X509* _certificate;
};


std::string certificateFingerprint(const std::string& pemPath);
/// SHA-256 of the first certificate in a PEM file, hex.

std::string tryHandshake(int port, const std::string& caFile, int protocolVersion);
/// One TLS handshake with exactly protocolVersion (e.g. TLS1_1_VERSION; the client's security
/// level lowered so it can offer old versions): "" when it succeeded, else OpenSSL's reason.


class TlsTestClient
/// One blocking TLS connection to a loopback server, verified against a CA file with the given
/// server name. Throws std::runtime_error on failure (with OpenSSL's reason).
{
public:
	TlsTestClient(int port, const std::string& caFile, const std::string& serverName = "localhost",
	              const std::string& alpn = "http/1.1", int receiveBufferBytes = 0);
	/// receiveBufferBytes: SO_RCVBUF set before connecting (a client that reads slowly); 0 = default.
	~TlsTestClient();

	TlsTestClient(const TlsTestClient&) = delete;
	TlsTestClient& operator=(const TlsTestClient&) = delete;

	std::string peerFingerprint() const;
	/// SHA-256 of the certificate the server presented, hex.
	std::string alpnSelected() const;
	std::string protocolVersion() const;

	void write(const std::string& bytes);
	std::string readSome(int timeoutMs = 5000);
	/// Whatever arrives next ("" on a clean close or timeout).
	std::string readHttpResponse(int timeoutMs = 5000);
	/// A whole response with a Content-Length body (or the head only for 101).

	std::string request(const std::string& method, const std::string& target, const std::string& body = "");
	/// One HTTP/1.1 request on this connection (keep-alive), its response text.

	int upgrade(const std::string& target);
	/// A WebSocket upgrade; the status code.
	void sendText(const std::string& text);
	std::string receiveMessage(int timeoutMs = 5000);
	/// The payload of the next text or binary frame (unfragmented); throws on anything else.

private:
	bool fill(int timeoutMs);

	int _fd = -1;
	SSL_CTX* _ctx = nullptr;
	SSL* _ssl = nullptr;
	std::string _buffer;
};


} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_TestTls_INCLUDED
