//
// TestTls.cpp
//


#include "TestTls.h"
#include "WsTestClient.h"
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <cstdio>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>


namespace Switchboard {
namespace Test {


namespace {

[[noreturn]] void fail(const std::string& what)
{
	std::string detail;
	unsigned long code;
	while ((code = ERR_get_error()) != 0)
	{
		char buffer[256];
		ERR_error_string_n(code, buffer, sizeof(buffer));
		detail += std::string(detail.empty() ? "" : "; ") + buffer;
	}
	throw std::runtime_error(what + (detail.empty() ? "" : ": " + detail));
}

EVP_PKEY* newKey()
{
	EVP_PKEY* key = EVP_EC_gen("P-256");
	if (!key)
		fail("EC key generation");
	return key;
}

void addExtension(X509* cert, X509* issuer, int nid, const char* value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
	X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
	if (!ext || X509_add_ext(cert, ext, -1) != 1)
		fail(std::string("certificate extension ") + value);
	X509_EXTENSION_free(ext);
}

X509* newCertificate(EVP_PKEY* subjectKey, const std::string& commonName, long serial, X509* issuer,
                     EVP_PKEY* issuerKey, bool isCa)
{
	X509* cert = X509_new();
	if (!cert)
		fail("X509_new");
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), 2 * 24 * 3600);
	X509_set_pubkey(cert, subjectKey);
	X509_NAME* name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(commonName.c_str()),
	                           -1, -1, 0);
	X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
	X509* signer = issuer ? issuer : cert;
	if (isCa)
	{
		addExtension(cert, signer, NID_basic_constraints, "critical,CA:TRUE");
		addExtension(cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
	}
	else
	{
		addExtension(cert, signer, NID_basic_constraints, "critical,CA:FALSE");
		addExtension(cert, signer, NID_key_usage, "critical,digitalSignature");
		addExtension(cert, signer, NID_ext_key_usage, "serverAuth");
		addExtension(cert, signer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
	}
	addExtension(cert, signer, NID_subject_key_identifier, "hash");
	if (X509_sign(cert, issuerKey, EVP_sha256()) == 0)
		fail("certificate signing");
	return cert;
}

void writePem(const std::string& path, X509* cert)
{
	FILE* file = std::fopen(path.c_str(), "w");
	if (!file)
		throw std::runtime_error("cannot write " + path);
	bool ok = PEM_write_X509(file, cert) == 1;
	std::fclose(file);
	if (!ok)
		fail("writing " + path);
}

void writePem(const std::string& path, EVP_PKEY* key)
{
	FILE* file = std::fopen(path.c_str(), "w");
	if (!file)
		throw std::runtime_error("cannot write " + path);
	bool ok = PEM_write_PrivateKey(file, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
	std::fclose(file);
	if (!ok)
		fail("writing " + path);
}

std::string hexDigest(X509* cert)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int length = 0;
	if (X509_digest(cert, EVP_sha256(), digest, &length) != 1)
		fail("certificate digest");
	static const char* HEX = "0123456789abcdef";
	std::string text;
	for (unsigned int i = 0; i < length; ++i)
	{
		text.push_back(HEX[digest[i] >> 4]);
		text.push_back(HEX[digest[i] & 15]);
	}
	return text;
}

} // namespace


TestCa::TestCa(const std::string& name):
    _key(newKey()),
    _certificate(newCertificate(_key, name, 1, nullptr, _key, true))
{
}


TestCa::~TestCa()
{
	X509_free(_certificate);
	EVP_PKEY_free(_key);
}


void TestCa::writeCertificate(const std::string& path) const
{
	writePem(path, _certificate);
}


void TestCa::issue(const std::string& commonName, long serial, const std::string& certificatePath,
                   const std::string& keyPath) const
{
	EVP_PKEY* key = newKey();
	X509* cert = newCertificate(key, commonName, serial, _certificate, _key, false);
	writePem(certificatePath, cert);
	writePem(keyPath, key);
	X509_free(cert);
	EVP_PKEY_free(key);
}


void TestCa::writeSelfSignedPair(const std::string& commonName, const std::string& certificatePath,
                                 const std::string& keyPath)
{
	EVP_PKEY* key = newKey();
	X509* cert = newCertificate(key, commonName, 7, nullptr, key, false);
	writePem(certificatePath, cert);
	writePem(keyPath, key);
	X509_free(cert);
	EVP_PKEY_free(key);
}


std::string certificateFingerprint(const std::string& pemPath)
{
	FILE* file = std::fopen(pemPath.c_str(), "r");
	if (!file)
		throw std::runtime_error("cannot read " + pemPath);
	X509* cert = PEM_read_X509(file, nullptr, nullptr, nullptr);
	std::fclose(file);
	if (!cert)
		fail("reading " + pemPath);
	std::string text = hexDigest(cert);
	X509_free(cert);
	return text;
}


std::string tryHandshake(int port, const std::string& caFile, int protocolVersion)
{
	SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_security_level(ctx, 0);
	SSL_CTX_set_min_proto_version(ctx, protocolVersion);
	SSL_CTX_set_max_proto_version(ctx, protocolVersion);
	SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
	SSL_CTX_load_verify_locations(ctx, caFile.c_str(), nullptr);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
	int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sockaddr_in address{};
	address.sin_family = AF_INET;
	address.sin_port = htons(static_cast<std::uint16_t>(port));
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	timeval timeout{5, 0};
	::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	std::string result;
	if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0)
		result = "connect failed";
	else
	{
		SSL* ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		SSL_set_tlsext_host_name(ssl, "localhost");
		if (SSL_connect(ssl) != 1)
		{
			unsigned long code = ERR_get_error();
			char buffer[256];
			ERR_error_string_n(code, buffer, sizeof(buffer));
			result = code ? buffer : "handshake failed";
		}
		ERR_clear_error();
		SSL_free(ssl);
	}
	::close(fd);
	SSL_CTX_free(ctx);
	return result;
}


TlsTestClient::TlsTestClient(int port, const std::string& caFile, const std::string& serverName,
                             const std::string& alpn, int receiveBufferBytes)
{
	_ctx = SSL_CTX_new(TLS_client_method());
	if (!_ctx)
		fail("SSL_CTX_new");
	SSL_CTX_set_verify(_ctx, SSL_VERIFY_PEER, nullptr);
	if (SSL_CTX_load_verify_locations(_ctx, caFile.c_str(), nullptr) != 1)
		fail("loading " + caFile);
	if (!alpn.empty())
	{
		std::string wire(1, static_cast<char>(alpn.size()));
		wire += alpn;
		SSL_CTX_set_alpn_protos(_ctx, reinterpret_cast<const unsigned char*>(wire.data()),
		                        static_cast<unsigned int>(wire.size()));
	}
	_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sockaddr_in address{};
	address.sin_family = AF_INET;
	address.sin_port = htons(static_cast<std::uint16_t>(port));
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	timeval timeout{10, 0};
	::setsockopt(_fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	::setsockopt(_fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	if (receiveBufferBytes > 0)
		::setsockopt(_fd, SOL_SOCKET, SO_RCVBUF, &receiveBufferBytes, sizeof(receiveBufferBytes));
	if (::connect(_fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0)
	{
		::close(_fd);
		_fd = -1;
		SSL_CTX_free(_ctx);
		throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + " failed");
	}
	_ssl = SSL_new(_ctx);
	SSL_set_fd(_ssl, _fd);
	SSL_set_tlsext_host_name(_ssl, serverName.c_str());
	SSL_set1_host(_ssl, serverName.c_str());
	if (SSL_connect(_ssl) != 1)
	{
		long verify = SSL_get_verify_result(_ssl);
		std::string reason = verify == X509_V_OK ? "" : std::string(" (") + X509_verify_cert_error_string(verify) + ")";
		SSL_free(_ssl);
		::close(_fd);
		SSL_CTX_free(_ctx);
		_ssl = nullptr;
		fail("TLS handshake with 127.0.0.1:" + std::to_string(port) + reason);
	}
}


TlsTestClient::~TlsTestClient()
{
	if (_ssl)
		SSL_free(_ssl);
	if (_fd >= 0)
		::close(_fd);
	if (_ctx)
		SSL_CTX_free(_ctx);
}


std::string TlsTestClient::peerFingerprint() const
{
	X509* cert = SSL_get1_peer_certificate(_ssl);
	if (!cert)
		return "";
	std::string text = hexDigest(cert);
	X509_free(cert);
	return text;
}


std::string TlsTestClient::alpnSelected() const
{
	const unsigned char* data = nullptr;
	unsigned int length = 0;
	SSL_get0_alpn_selected(_ssl, &data, &length);
	return std::string(reinterpret_cast<const char*>(data), length);
}


std::string TlsTestClient::protocolVersion() const
{
	return SSL_get_version(_ssl);
}


void TlsTestClient::write(const std::string& bytes)
{
	std::size_t written = 0;
	if (!bytes.empty() && SSL_write_ex(_ssl, bytes.data(), bytes.size(), &written) != 1)
		fail("TLS write");
}


bool TlsTestClient::fill(int timeoutMs)
{
	if (SSL_pending(_ssl) == 0)
	{
		pollfd p{_fd, POLLIN, 0};
		if (::poll(&p, 1, timeoutMs) != 1)
			return false;
	}
	char chunk[16384];
	std::size_t got = 0;
	if (SSL_read_ex(_ssl, chunk, sizeof(chunk), &got) != 1)
	{
		ERR_clear_error();
		return false;
	}
	_buffer.append(chunk, got);
	return true;
}


std::string TlsTestClient::readSome(int timeoutMs)
{
	if (_buffer.empty())
		fill(timeoutMs);
	std::string out;
	out.swap(_buffer);
	return out;
}


std::string TlsTestClient::readHttpResponse(int timeoutMs)
{
	std::size_t end;
	while ((end = _buffer.find("\r\n\r\n")) == std::string::npos)
	{
		if (!fill(timeoutMs))
			throw std::runtime_error("no complete response head; got: " + _buffer);
	}
	std::string head = _buffer.substr(0, end + 4);
	std::size_t bodyLength = 0;
	std::size_t at = head.find("Content-Length: ");
	if (at != std::string::npos && head.compare(9, 3, "101") != 0)
		bodyLength = std::stoul(head.substr(at + 16));
	while (_buffer.size() < head.size() + bodyLength)
	{
		if (!fill(timeoutMs))
			throw std::runtime_error("response body cut short: " + _buffer);
	}
	std::string response = _buffer.substr(0, head.size() + bodyLength);
	_buffer.erase(0, response.size());
	return response;
}


std::string TlsTestClient::request(const std::string& method, const std::string& target, const std::string& body)
{
	std::string text = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n";
	if (!body.empty() || method == "POST" || method == "PUT")
		text += "Content-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
	text += "\r\n" + body;
	write(text);
	return readHttpResponse();
}


int TlsTestClient::upgrade(const std::string& target)
{
	write("GET " + target +
	      " HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
	std::string response = readHttpResponse();
	return std::stoi(response.substr(9, 3));
}


void TlsTestClient::sendText(const std::string& text)
{
	const unsigned char mask[4] = {1, 2, 3, 4};
	write(WsTestClient::encodeFrame(WsTestClient::OPCODE_TEXT, text, true, true, 0, mask));
}


std::string TlsTestClient::receiveMessage(int timeoutMs)
{
	for (;;)
	{
		if (_buffer.size() >= 2)
		{
			auto byte = [this](std::size_t i) { return static_cast<unsigned char>(_buffer[i]); };
			std::size_t length = byte(1) & 0x7F;
			std::size_t offset = 2;
			if (length == 126 && _buffer.size() >= 4)
			{
				length = (byte(2) << 8) | byte(3);
				offset = 4;
			}
			else if (length == 127 && _buffer.size() >= 10)
			{
				length = 0;
				for (int i = 0; i < 8; ++i)
					length = (length << 8) | byte(2 + static_cast<std::size_t>(i));
				offset = 10;
			}
			if ((byte(1) & 0x7F) < 126 || offset > 2)
			{
				if (_buffer.size() >= offset + length)
				{
					int opcode = byte(0) & 0x0F;
					if ((byte(0) & 0x80) == 0 || (opcode != 1 && opcode != 2))
						throw std::runtime_error("unexpected frame, opcode " + std::to_string(opcode));
					std::string payload = _buffer.substr(offset, length);
					_buffer.erase(0, offset + length);
					return payload;
				}
			}
		}
		if (!fill(timeoutMs))
			throw std::runtime_error("no WebSocket message in time");
	}
}


} // namespace Test
} // namespace Switchboard
