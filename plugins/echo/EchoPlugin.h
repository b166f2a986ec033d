//
// EchoPlugin.h
//
// The example plugin: a WebSocket echo endpoint, a small notes store over HTTP and a counter that
// survives restarts. Third parties start their own plugin by copying this directory.
//


#ifndef Switchboard_Echo_EchoPlugin_INCLUDED
#define Switchboard_Echo_EchoPlugin_INCLUDED


#include "switchboard/SDK.h"
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>


namespace Switchboard {
namespace Echo {


class EchoPlugin: public Plugin, public WebSocketHandler
/// Everything the echo plugin does, in one class that is both the Plugin (lifecycle) and the
/// handler of its only WebSocket endpoint.
///
/// Mounted under the host's prefix P (configured as [plugin.echo] prefix):
///   * WebSocket P/ws: sends the configured greeting first (if any), then echoes every message
///     back with the same kind (TEXT as TEXT, BINARY as BINARY).
///   * POST P/notes: stores the body (UTF-8, 1..4096 bytes; 413 above, 400 for empty or not
///     UTF-8) and keeps only the newest max_notes notes; 201 {"id":N}.
///   * GET P/notes: all notes, oldest first: [{"id":N,"body":"...","created_ms":T}, ...].
///   * GET P/notes/{id}: one note, or 404.
///   * GET P/stats: {"echoed":N,"connections":M}; echoed counts every message ever echoed,
///     across restarts.
///
/// Threading, as the SDK contract states it: route handlers run concurrently on HTTP workers,
/// connection callbacks on event loops (several loops at once), the flush timer on a loop.
/// So every member that callbacks change is atomic (the metrics objects are), the rest is
/// written only in start() and read afterwards, and nothing on a loop touches storage
/// synchronously.
{
public:
	static constexpr std::size_t MAX_NOTE_BYTES = 4096;
	static constexpr std::int64_t FLUSH_INTERVAL_MS = 1000;

	EchoPlugin() = default;
	~EchoPlugin() override = default;

	// --- Plugin --------------------------------------------------------------------------------

	std::vector<Migration> migrations() const override;
	/// Version 1 creates the notes and counters tables.

	StartResult start(Host& host, Setup& setup) override;
	/// Reads the configuration and the persisted total, registers the endpoint and the routes,
	/// creates the metrics and starts the flush timer.

	void stop() override;
	/// Writes the part of the echoed total that the timer has not written yet.

	ReconfigureResult reconfigure(const Config& config, const std::vector<std::string>& changedKeys) override;
	/// Both keys apply live: the greeting to connections opened from now on, max_notes from the
	/// next note. Runs on the main thread while callbacks run: the values are under _settingsMutex.

	// --- WebSocketHandler ----------------------------------------------------------------------

	void onOpen(Connection& connection, const HttpRequest& request) override;
	void onMessage(Connection& connection, std::string_view data, MessageKind kind) override;
	void onClose(Connection& connection, std::uint16_t code, std::string_view reason) override;
	// onAccept (accept everyone) and onBackpressure keep their defaults: an echo has nothing to
	// pause, and the host closes a connection whose output queue passes its hard cap.

private:
	struct Session
	/// Per-connection state, attached with Connection::setState. Only this connection's
	/// callbacks touch it, and they never overlap, so it needs no lock.
	{
		std::uint64_t echoed = 0;
		std::int64_t openedMs = 0;
	};

	void postNote(const HttpRequest& request, HttpResponse& response);
	void listNotes(const HttpRequest& request, HttpResponse& response);
	void getNote(const HttpRequest& request, HttpResponse& response);
	void stats(const HttpRequest& request, HttpResponse& response);
	void flushEchoed();
	std::uint64_t echoedSinceStart() const;

	Host* _pHost = nullptr;
	mutable std::mutex _settingsMutex; ///< the two settings: a reload may change them while serving
	std::string _greeting;
	std::int64_t _maxNotes = 1000;
	Counter* _pEchoed = nullptr;
	Gauge* _pConnections = nullptr;
	std::uint64_t _echoedAtStart = 0;       ///< the counter's value when start() ran
	std::int64_t _persistedAtStart = 0;     ///< the stored total when start() ran
	std::atomic<std::uint64_t> _flushed{0}; ///< of echoedSinceStart(): written, or being written
};


const PluginDescriptor& echoDescriptor();
/// The descriptor the library exports through SWITCHBOARD_PLUGIN (also usable by tests that
/// link the plugin's sources directly).


} // namespace Echo
} // namespace Switchboard


#endif // Switchboard_Echo_EchoPlugin_INCLUDED
