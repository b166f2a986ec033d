//
// Tls.cpp
//


#include "net/Tls.h"
#include "net/PerThread.h"
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <new>


namespace Switchboard {
namespace Core {


namespace {

const unsigned char ALPN_HTTP11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

std::string openSslErrors()
// Drains OpenSSL's error queue of this thread into one line (the last error is the most specific).
{
	std::string text;
	unsigned long code;
	while ((code = ERR_get_error()) != 0)
	{
		char buffer[256];
		ERR_error_string_n(code, buffer, sizeof(buffer));
		if (!text.empty())
			text += "; ";
		text += buffer;
	}
	return text.empty() ? "unknown TLS error" : text;
}

bool readable(const std::string& path, std::string& error)
{
	std::ifstream file(path, std::ios::binary);
	if (file)
		return true;
	error = "cannot read " + path + ": " + std::strerror(errno);
	return false;
}

int selectAlpn(SSL*, const unsigned char** out, unsigned char* outLength, const unsigned char* offered,
               unsigned int offeredLength, void*)
{
	// HTTP/1.1 is all the front speaks: chosen when offered; a client offering only other
	// protocols (h2 alone) continues without ALPN rather than failing.
	unsigned char* selected = nullptr;
	if (SSL_select_next_proto(&selected, outLength, ALPN_HTTP11, sizeof(ALPN_HTTP11), offered, offeredLength) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = selected;
	return SSL_TLSEXT_ERR_OK;
}

std::string nameOf(X509_NAME* name)
{
	BIO* bio = BIO_new(BIO_s_mem());
	if (!bio)
		return "?";
	X509_NAME_print_ex(bio, name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
	char* data = nullptr;
	long length = BIO_get_mem_data(bio, &data);
	std::string text(data, static_cast<std::size_t>(length > 0 ? length : 0));
	BIO_free(bio);
	return text;
}

std::string timeOf(const ASN1_TIME* time)
{
	BIO* bio = BIO_new(BIO_s_mem());
	if (!bio)
		return "?";
	ASN1_TIME_print(bio, time);
	char* data = nullptr;
	long length = BIO_get_mem_data(bio, &data);
	std::string text(data, static_cast<std::size_t>(length > 0 ? length : 0));
	BIO_free(bio);
	return text;
}

bool addChainFile(SSL_CTX* ctx, const std::string& path, std::string& error)
{
	BIO* bio = BIO_new_file(path.c_str(), "r");
	if (!bio)
	{
		error = path + ": " + openSslErrors();
		return false;
	}
	int added = 0;
	while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr))
	{
		if (SSL_CTX_add0_chain_cert(ctx, cert) != 1)
		{
			X509_free(cert);
			BIO_free(bio);
			error = path + ": " + openSslErrors();
			return false;
		}
		++added;
	}
	BIO_free(bio);
	unsigned long last = ERR_peek_last_error();
	bool endOfFile = ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
	if (added == 0 || (last != 0 && !endOfFile))
	{
		std::string detail = openSslErrors();
		error = path + (added == 0 ? ": no PEM certificate in the chain file" : ": " + detail);
		return false;
	}
	ERR_clear_error(); // the expected end-of-file "no start line"
	return true;
}

} // namespace


std::shared_ptr<TlsContext> TlsContext::load(const TlsFiles& files, std::string& error)
{
	ERR_clear_error();
	if (files.key.empty())
	{
		error = "tls_key is required with tls_certificate";
		return nullptr;
	}
	if (!readable(files.certificate, error) || !readable(files.key, error) ||
	    (!files.chain.empty() && !readable(files.chain, error)))
		return nullptr;
	SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
	{
		error = openSslErrors();
		return nullptr;
	}
	std::shared_ptr<TlsContext> context(new TlsContext(ctx));
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	// No renegotiation (a CPU lever for attackers); the server's cipher order.
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	// Idle connections hold no record buffers (about 34 KiB each otherwise): thousands of mostly
	// idle signaling sockets are the normal load.
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	// A record the kernel did not take is retried from the session's own copy, not from the
	// caller's buffer it was first written from.
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	// One recv() takes whatever records are there (not a header, then a body): half the system
	// calls. Callers drain hasBufferedInput(), since the poller cannot see what OpenSSL holds.
	SSL_CTX_set_read_ahead(ctx, 1);
	static const unsigned char SESSION_CONTEXT[] = "switchboard";
	SSL_CTX_set_session_id_context(ctx, SESSION_CONTEXT, sizeof(SESSION_CONTEXT) - 1);
	SSL_CTX_set_alpn_select_cb(ctx, &selectAlpn, nullptr);

	if (SSL_CTX_use_certificate_chain_file(ctx, files.certificate.c_str()) != 1)
	{
		error = files.certificate + ": not a PEM certificate (" + openSslErrors() + ")";
		return nullptr;
	}
	if (!files.chain.empty() && !addChainFile(ctx, files.chain, error))
		return nullptr;
	if (SSL_CTX_use_PrivateKey_file(ctx, files.key.c_str(), SSL_FILETYPE_PEM) != 1)
	{
		std::string detail = openSslErrors();
		if (detail.find("key values mismatch") != std::string::npos)
			error = files.key + ": the private key does not belong to the certificate " + files.certificate;
		else
			error = files.key + ": not a PEM private key (" + detail + ")";
		return nullptr;
	}
	if (SSL_CTX_check_private_key(ctx) != 1)
	{
		ERR_clear_error();
		error = files.key + ": the private key does not belong to the certificate " + files.certificate;
		return nullptr;
	}
	if (X509* cert = SSL_CTX_get0_certificate(ctx))
	{
		context->_description = "subject " + nameOf(X509_get_subject_name(cert)) + ", issuer " +
		                        nameOf(X509_get_issuer_name(cert)) + ", valid until " +
		                        timeOf(X509_get0_notAfter(cert));
		if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0)
			context->_description += " (EXPIRED)";
	}
	return context;
}


TlsContext::~TlsContext()
{
	SSL_CTX_free(_ctx);
}


TlsSession::TlsSession(const TlsContext& context, int fd):
    _ssl(SSL_new(context.native()))
{
	if (!_ssl)
	{
		ERR_clear_error();
		throw std::bad_alloc();
	}
	SSL_set_fd(_ssl, fd);
	SSL_set_accept_state(_ssl);
}


TlsSession::~TlsSession()
{
	SSL_free(_ssl);
}


TlsSession::Io TlsSession::outcome(int result)
{
	int code = SSL_get_error(_ssl, result);
	switch (code)
	{
		case SSL_ERROR_WANT_READ:
			_wantsWritable = false;
			return Io::WOULD_BLOCK;
		case SSL_ERROR_WANT_WRITE:
			_wantsWritable = true;
			return Io::WOULD_BLOCK;
		case SSL_ERROR_ZERO_RETURN:
			return Io::CLOSED;
		case SSL_ERROR_SYSCALL:
			if (errno == EINTR || errno == EAGAIN)
				return Io::WOULD_BLOCK; // not expected from OpenSSL 3, harmless to retry
			ERR_clear_error();
			_failed = true;
			// OpenSSL 3 reports a TCP end without close_notify as an SSL error ("unexpected eof");
			// errno 0 here is the same from older paths. Either way the peer is gone.
			_lastError = errno == 0 ? "connection closed" : std::strerror(errno);
			return errno == 0 || errno == ECONNRESET || errno == EPIPE ? Io::CLOSED : Io::FAILED;
		default:
		{
			_failed = true;
			_lastError = openSslErrors();
			if (_lastError.find("unexpected eof") != std::string::npos)
				return Io::CLOSED;
			return Io::FAILED;
		}
	}
}


TlsSession::Io TlsSession::handshake()
{
	if (_handshakeDone)
		return Io::OK;
	ERR_clear_error();
	errno = 0;
	int result = SSL_do_handshake(_ssl);
	if (result == 1)
	{
		_handshakeDone = true;
		_wantsWritable = false;
		return Io::OK;
	}
	return outcome(result);
}


TlsSession::Io TlsSession::read(char* buffer, std::size_t size, std::size_t& got)
{
	got = 0;
	ERR_clear_error();
	errno = 0;
	std::size_t length = 0;
	int result = SSL_read_ex(_ssl, buffer, size, &length);
	if (result == 1)
	{
		_wantsWritable = false;
		got = length;
		return Io::OK;
	}
	return outcome(0);
}


bool TlsSession::hasBufferedInput() const
{
	return SSL_has_pending(_ssl) == 1;
}


TlsSession::Io TlsSession::flushPending()
{
	if (_pending.empty())
		return Io::OK;
	ERR_clear_error();
	errno = 0;
	std::size_t written = 0;
	// The same bytes at the same address as the call that wanted writability, as OpenSSL asks.
	if (SSL_write_ex(_ssl, _pending.data(), _pending.size(), &written) == 1)
	{
		std::string().swap(_pending); // an idle session holds no copy
		return Io::OK;
	}
	Io io = outcome(0);
	return io == Io::WOULD_BLOCK ? Io::WOULD_BLOCK : io;
}


TlsSession::Io TlsSession::write(const iovec* pieces, int count, std::size_t& taken)
{
	taken = 0;
	if (!_pending.empty())
	{
		Io io = flushPending();
		if (io != Io::OK)
			return io;
	}
	if (count <= 0)
		return Io::OK;
	// One record from the pieces. A piece that fills a record (or the only one) is written from
	// where it is; small frames are gathered first, so a burst of signaling messages costs one
	// record and one system call, not one each. The gathering buffer is the thread's (the loop's),
	// so sessions hold no buffer of their own unless the kernel is full.
	const char* record;
	std::size_t length;
	std::string& gathered = perThread<std::string>();
	if (count == 1 || pieces[0].iov_len >= RECORD_PLAINTEXT)
	{
		record = static_cast<const char*>(pieces[0].iov_base);
		length = pieces[0].iov_len < RECORD_PLAINTEXT ? pieces[0].iov_len : RECORD_PLAINTEXT;
	}
	else
	{
		gathered.clear();
		for (int i = 0; i < count && gathered.size() < RECORD_PLAINTEXT; ++i)
		{
			std::size_t room = RECORD_PLAINTEXT - gathered.size();
			gathered.append(static_cast<const char*>(pieces[i].iov_base),
			                pieces[i].iov_len < room ? pieces[i].iov_len : room);
		}
		record = gathered.data();
		length = gathered.size();
	}
	if (length == 0)
		return Io::OK;
	ERR_clear_error();
	errno = 0;
	std::size_t written = 0;
	if (SSL_write_ex(_ssl, record, length, &written) == 1)
	{
		taken = length;
		return Io::OK;
	}
	Io io = outcome(0);
	if (io != Io::WOULD_BLOCK)
		return io;
	// OpenSSL keeps the record's progress; the retry passes the same bytes from our own copy.
	_pending.assign(record, length);
	taken = length;
	return Io::OK;
}


void TlsSession::shutdown()
{
	if (_failed || !_handshakeDone || !_pending.empty())
		return;
	ERR_clear_error();
	SSL_shutdown(_ssl); // one non-blocking attempt: send our close_notify, do not wait for theirs
	ERR_clear_error();
}


} // namespace Core
} // namespace Switchboard
