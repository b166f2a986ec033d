//
// EchoPlugin.cpp
//
// The example plugin's implementation and its exported descriptor.
//


#include "EchoPlugin.h"
#include <memory>
#include <string>


namespace Switchboard {
namespace Echo {


namespace {


// The keys of [plugin.echo]. The host validates them (type, range, unknown keys) before the
// plugin is even created, so start() can read them without checking again.
const ConfigKey CONFIG_KEYS[] = {
    {"greeting", ConfigType::STRING, "", "text sent to every new connection before anything else; empty: none", 0, 0},
    {"max_notes", ConfigType::INTEGER, "1000", "most notes kept; the oldest are deleted first", 1, 1000000},
};


const char* const ECHOED = "echoed"; // the row of the counters table holding the echoed total

// Adds a delta to a named counter. Portable SQL (SQLite 3.24+ and PostgreSQL): '?' placeholders,
// an upsert, no backend-specific functions.
const char* const ADD_TO_COUNTER = "INSERT INTO counters (name, value) VALUES (?, ?) "
                                   "ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value";


bool isUtf8(std::string_view text)
{
	return HttpText::replaceInvalidUtf8(text) == text;
}


std::string jsonString(std::string_view text)
/// text as a JSON string literal. The notes are checked to be UTF-8 when stored; should a
/// stored value not be, it is repaired rather than producing invalid JSON.
{
	return Json::quote(HttpText::replaceInvalidUtf8(text));
}


std::string noteJson(const std::vector<Value>& row)
/// One row of SELECT id, body, created_ms as a JSON object.
{
	return "{\"id\":" + std::to_string(valueAsInt(row[0])) + ",\"body\":" + jsonString(valueAsString(row[1])) +
	       ",\"created_ms\":" + std::to_string(valueAsInt(row[2])) + "}";
}


bool parseId(std::string_view text, std::int64_t& id)
/// A note id as the URL carries it: 1 to 18 decimal digits, nothing else.
{
	if (text.empty() || text.size() > 18)
		return false;
	id = 0;
	for (char c : text)
	{
		if (c < '0' || c > '9')
			return false;
		id = id * 10 + (c - '0');
	}
	return true;
}


} // namespace


std::vector<Migration> EchoPlugin::migrations() const
{
	// Never edit a released migration: add version 2 instead. The host applies each in its own
	// transaction and remembers the version, so this runs once per database.
	return {
	    {1,
	     "CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, created_ms INTEGER NOT NULL);"
	     "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)"},
	};
}


StartResult EchoPlugin::start(Host& host, Setup& setup)
{
	// start() runs on the host's main thread before any request or connection: blocking work
	// (reading storage) is fine here, and members written here are safely visible to the
	// threads that run callbacks later.
	_pHost = &host;

	const Config& config = host.config();
	_greeting = config.getString("greeting");
	_maxNotes = config.getInt("max_notes");
	if (!isUtf8(_greeting))
		return StartResult::failed("greeting is not valid UTF-8; TEXT messages must be");

	// Metrics are exported as switchboard_echo_<name>. Keep the references: lookups take a lock.
	_pEchoed = &host.metrics().counter("messages_echoed_total", "Messages echoed back to their sender");
	_pConnections = &host.metrics().gauge("connections", "Open echo WebSocket connections");
	_echoedAtStart = _pEchoed->value();
	_flushed = 0;

	QueryResult stored = host.storage().execute("SELECT value FROM counters WHERE name = ?", {std::string(ECHOED)});
	if (!stored.ok)
		return StartResult::failed("cannot read the echoed total: " + stored.error);
	_persistedAtStart = stored.rows.empty() ? 0 : valueAsInt(stored.rows[0][0]);

	// Routes and endpoints are mounted through setup, which exists only during start(). Paths are
	// relative to the mount prefix. A GET route answers HEAD too.
	bool registered =
	    setup.addWebSocket("/ws", *this) &&
	    setup.addRoute("POST", "/notes", [this](const HttpRequest& rq, HttpResponse& rs) { postNote(rq, rs); }) &&
	    setup.addRoute("GET", "/notes", [this](const HttpRequest& rq, HttpResponse& rs) { listNotes(rq, rs); }) &&
	    setup.addRoute("GET", "/notes/{id}", [this](const HttpRequest& rq, HttpResponse& rs) { getNote(rq, rs); }) &&
	    setup.addRoute("GET", "/stats", [this](const HttpRequest& rq, HttpResponse& rs) { stats(rq, rs); });
	if (!registered)
		return StartResult::failed("cannot register the endpoint and routes (see the log)");

	// The total is written in the background once a second rather than per message: a storage
	// round trip per echo would cost far more than the echo.
	host.every(FLUSH_INTERVAL_MS, [this] { flushEchoed(); });

	host.logger().info("echo started: " + std::to_string(_persistedAtStart) + " messages echoed before, keeping " +
	                   std::to_string(_maxNotes) + " notes");
	return StartResult::started();
}


void EchoPlugin::stop()
{
	// The host has closed every connection and cancelled the timer: nothing else changes the
	// counter now. Blocking storage is allowed in stop().
	std::uint64_t total = echoedSinceStart();
	std::uint64_t flushed = _flushed.load();
	if (total <= flushed)
		return;
	QueryResult written =
	    _pHost->storage().execute(ADD_TO_COUNTER, {std::string(ECHOED), static_cast<std::int64_t>(total - flushed)});
	if (written.ok)
		_flushed = total;
	else
		_pHost->logger().error("cannot persist the echoed total: " + written.error);
}


ReconfigureResult EchoPlugin::reconfigure(const Config& config, const std::vector<std::string>& /*changedKeys*/)
{
	// All or nothing: check first, then apply both under the lock.
	std::string greeting = config.getString("greeting");
	if (!isUtf8(greeting))
		return ReconfigureResult::needsRestart("greeting is not valid UTF-8; TEXT messages must be");
	std::lock_guard<std::mutex> lock(_settingsMutex);
	_greeting = std::move(greeting);
	_maxNotes = config.getInt("max_notes");
	return ReconfigureResult::done();
}


void EchoPlugin::onOpen(Connection& connection, const HttpRequest& /*request*/)
{
	_pConnections->add(1);

	// Typed state: stateAs<Session>() finds it again; the host keeps it until onClose has returned.
	Session& session = connection.emplaceState<Session>();
	session.openedMs = _pHost->clock().monotonicMs();

	std::string greeting;
	{
		std::lock_guard<std::mutex> lock(_settingsMutex);
		greeting = _greeting;
	}
	if (!greeting.empty())
		connection.send(greeting, MessageKind::TEXT);
}


void EchoPlugin::onMessage(Connection& connection, std::string_view data, MessageKind kind)
{
	// data is only valid during this call; send() copies it before returning.
	if (connection.send(data, kind) != SendResult::QUEUED)
		return; // CLOSED: the connection is going; DROPPED: the host is closing it (1008)
	_pEchoed->increment();
	if (Session* session = connection.stateAs<Session>())
		++session->echoed;
}


void EchoPlugin::onClose(Connection& connection, std::uint16_t code, std::string_view /*reason*/)
{
	_pConnections->add(-1);

	// Formatting costs: build debug lines only when they will be written.
	Logger& logger = _pHost->logger();
	Session* session = connection.stateAs<Session>();
	if (session != nullptr && logger.enabled(LogLevel::LEVEL_DEBUG))
	{
		logger.debug("connection " + std::to_string(connection.id()) + " from " + connection.remoteAddress() +
		             " closed with " + std::to_string(code) + " after " + std::to_string(session->echoed) +
		             " echoes in " + std::to_string(_pHost->clock().monotonicMs() - session->openedMs) + " ms");
	}
}


void EchoPlugin::postNote(const HttpRequest& request, HttpResponse& response)
{
	// Route handlers run on HTTP worker threads: synchronous storage is fine here.
	const std::string& body = request.body;
	if (body.size() > MAX_NOTE_BYTES)
	{
		response.text(413, "a note holds at most " + std::to_string(MAX_NOTE_BYTES) + " bytes\n");
		return;
	}
	if (body.empty())
	{
		response.text(400, "the request body is the note, and it is empty\n");
		return;
	}
	if (!isUtf8(body))
	{
		response.text(400, "a note must be UTF-8 text\n");
		return;
	}

	// Insert and trim in one transaction, so concurrent posts never leave more than max_notes.
	std::int64_t maxNotes = 0;
	{
		std::lock_guard<std::mutex> lock(_settingsMutex);
		maxNotes = _maxNotes;
	}
	std::int64_t id = 0;
	std::string failure;
	bool committed = _pHost->storage().transaction(
	    [&](Storage& tx) {
		    QueryResult inserted = tx.execute("INSERT INTO notes (body, created_ms) VALUES (?, ?) RETURNING id",
		                                      {body, _pHost->clock().wallMs()});
		    if (!inserted.ok || inserted.rows.empty())
		    {
			    failure = inserted.ok ? "no id returned" : inserted.error;
			    return false;
		    }
		    id = valueAsInt(inserted.rows[0][0]);
		    QueryResult trimmed = tx.execute(
		        "DELETE FROM notes WHERE id NOT IN (SELECT id FROM notes ORDER BY id DESC LIMIT ?)", {maxNotes});
		    if (!trimmed.ok)
		    {
			    failure = trimmed.error;
			    return false;
		    }
		    return true;
	    },
	    &failure);
	if (!committed)
	{
		_pHost->logger().error("cannot store a note: " + failure);
		response.text(500, "the note could not be stored\n");
		return;
	}
	response.setHeader("Location", std::string(_pHost->mountPrefix()) + "/notes/" + std::to_string(id));
	response.json(201, "{\"id\":" + std::to_string(id) + "}");
}


void EchoPlugin::listNotes(const HttpRequest& /*request*/, HttpResponse& response)
{
	QueryResult notes = _pHost->storage().execute("SELECT id, body, created_ms FROM notes ORDER BY id");
	if (!notes.ok)
	{
		_pHost->logger().error("cannot list notes: " + notes.error);
		response.text(500, "the notes could not be read\n");
		return;
	}
	std::string json = "[";
	for (const auto& row : notes.rows)
	{
		if (json.size() > 1)
			json += ',';
		json += noteJson(row);
	}
	json += ']';
	response.json(200, json);
}


void EchoPlugin::getNote(const HttpRequest& request, HttpResponse& response)
{
	// Path parameters arrive raw (not percent-decoded); an id is plain digits anyway.
	std::int64_t id = 0;
	if (!parseId(request.pathParam("id"), id))
	{
		response.text(404, "no such note\n");
		return;
	}
	QueryResult note = _pHost->storage().execute("SELECT id, body, created_ms FROM notes WHERE id = ?", {id});
	if (!note.ok)
	{
		_pHost->logger().error("cannot read a note: " + note.error);
		response.text(500, "the note could not be read\n");
		return;
	}
	if (note.rows.empty())
	{
		response.text(404, "no such note\n");
		return;
	}
	response.json(200, noteJson(note.rows[0]));
}


void EchoPlugin::stats(const HttpRequest& /*request*/, HttpResponse& response)
{
	std::int64_t echoed = _persistedAtStart + static_cast<std::int64_t>(echoedSinceStart());
	response.json(200, "{\"echoed\":" + std::to_string(echoed) +
	                       ",\"connections\":" + std::to_string(_pConnections->value()) + "}");
}


void EchoPlugin::flushEchoed()
{
	// Runs on an event loop every FLUSH_INTERVAL_MS: it must not block, so the write goes
	// through executeAsync. The delta is claimed before the write and given back if the write
	// fails, so a later tick (or stop()) retries it and nothing is counted twice.
	std::uint64_t total = echoedSinceStart();
	std::uint64_t flushed = _flushed.load();
	if (total <= flushed)
		return;
	std::uint64_t delta = total - flushed;
	_flushed = total;
	_pHost->storage().executeAsync(
	    ADD_TO_COUNTER, {std::string(ECHOED), static_cast<std::int64_t>(delta)}, [this, delta](QueryResult result) {
		    if (result.ok)
			    return;
		    _flushed -= delta;
		    _pHost->logger().warning("cannot persist the echoed total (will retry): " + result.error);
	    });
}


std::uint64_t EchoPlugin::echoedSinceStart() const
{
	return _pEchoed->value() - _echoedAtStart;
}


const PluginDescriptor& echoDescriptor()
{
	// A function-local static: built on first use, after the SDK's constants are initialised.
	static const PluginDescriptor descriptor = makeDescriptor<EchoPlugin>(
	    "switchboard.example.echo", "echo", "1.0.0", "Echoes WebSocket messages and keeps notes: the example plugin",
	    CONFIG_KEYS, static_cast<std::uint32_t>(sizeof(CONFIG_KEYS) / sizeof(CONFIG_KEYS[0])));
	return descriptor;
}


} // namespace Echo
} // namespace Switchboard


// The library's one exported symbol: the host looks it up, checks the descriptor (ABI numbers,
// build signature) and only then creates the plugin.
SWITCHBOARD_PLUGIN(Switchboard::Echo::echoDescriptor)
