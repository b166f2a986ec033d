//
// Tls.h
//
// Built-in TLS for the listeners: a server context read from PEM files and one non-blocking
// session per connection, driven by the event loops (OpenSSL on the connection's own socket).
//


#ifndef Switchboard_Core_Tls_INCLUDED
#define Switchboard_Core_Tls_INCLUDED


#include "net/SocketIo.h"
#include <cstddef>
#include <memory>
#include <string>


typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;


namespace Switchboard {
namespace Core {


struct TlsFiles
/// A listener's tls_certificate, tls_key and tls_chain (optional), as absolute paths.
{
	std::string certificate;
	std::string key;
	std::string chain;

	bool enabled() const { return !certificate.empty(); }
};


class TlsContext
/// A server context: the certificate (with any chain in its file or in the chain file) and its
/// private key, TLS 1.2 at least, ALPN "http/1.1". Immutable once loaded and shared by the
/// connections accepted while it is current; a reload makes a new one, and every session keeps
/// the context it started with alive (OpenSSL counts the references), so reloading never
/// disturbs open connections. Thread-safe.
{
public:
	static std::shared_ptr<TlsContext> load(const TlsFiles& files, std::string& error);
	/// Null with a one-line reason when a file is missing or unreadable, not PEM, or the key
	/// does not belong to the certificate.
	~TlsContext();

	TlsContext(const TlsContext&) = delete;
	TlsContext& operator=(const TlsContext&) = delete;

	SSL_CTX* native() const { return _ctx; }
	const std::string& description() const { return _description; }
	/// The certificate's subject, issuer and validity, for the log.

private:
	explicit TlsContext(SSL_CTX* ctx):
	    _ctx(ctx)
	{
	}

	SSL_CTX* _ctx;
	std::string _description;
};


class TlsSession
/// One server-side TLS connection on a non-blocking socket; the socket stays owned by the
/// connection. Plaintext given to write() belongs to the session from then on (like bytes the
/// kernel took), so callers can drop it from their queues. Used by one loop thread at a time.
{
public:
	enum class Io
	{
		OK,          ///< progress (bytes read, written or taken; handshake complete)
		WOULD_BLOCK, ///< wait for readiness: readable, or writable when wantsWritable()
		CLOSED,      ///< the peer closed (close_notify or TCP end)
		FAILED       ///< a TLS or socket error: the connection is finished
	};

	static constexpr std::size_t RECORD_PLAINTEXT = 16384; ///< what one TLS record carries at most

	TlsSession(const TlsContext& context, int fd);
	/// Throws std::bad_alloc when OpenSSL cannot allocate the session.
	~TlsSession();

	TlsSession(const TlsSession&) = delete;
	TlsSession& operator=(const TlsSession&) = delete;

	Io handshake();
	/// Advances the server handshake; OK once it is complete (then a no-op).
	bool handshakeDone() const { return _handshakeDone; }

	Io read(char* buffer, std::size_t size, std::size_t& got);
	/// Up to size plaintext bytes (one record at most).
	bool hasBufferedInput() const;
	/// Bytes OpenSSL read from the socket and has not returned yet (the poller cannot see
	/// them): read again without waiting for readiness.

	Io write(const iovec* pieces, int count, std::size_t& taken);
	/// Takes up to RECORD_PLAINTEXT bytes from the pieces, in order, as one record. taken is
	/// what the session now owns; WOULD_BLOCK with taken 0 while an earlier record is unsent.
	Io flushPending();
	/// Sends a record the kernel did not take earlier; OK when nothing is pending any more.
	bool hasPendingOutput() const { return !_pending.empty(); }

	bool wantsWritable() const { return _wantsWritable; }
	/// The last handshake or read step waits for the socket to become writable.

	void shutdown();
	/// Sends close_notify if it can without blocking; the socket is closed by its owner.

	std::string lastError() const { return _lastError; }

private:
	Io outcome(int result);

	SSL* _ssl;
	std::string _pending; ///< plaintext of a record SSL_write has not finished sending; else empty
	std::string _lastError;
	bool _handshakeDone = false;
	bool _wantsWritable = false;
	bool _failed = false;
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_Tls_INCLUDED
