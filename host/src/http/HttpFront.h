//
// HttpFront.h
//
// The HTTP side of the host: one Poco HTTPServer per listener, plugin routes, WebSocket upgrades
// handed to the Transport, and the admin listener's operations endpoints.
//


#ifndef Switchboard_Core_HttpFront_INCLUDED
#define Switchboard_Core_HttpFront_INCLUDED


#include "config/Settings.h"
#include "net/Transport.h"
#include "switchboard/Host.h"
#include "switchboard/util/RoutePattern.h"
#include "Poco/Logger.h"
#include "Poco/Net/HTTPServer.h"
#include "Poco/ThreadPool.h"
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>


namespace Switchboard {
namespace Core {


struct Route
{
	PluginSlot* owner; ///< the plugin that registered it; its guard runs the handler
	std::string prefix;
	std::string method;
	RoutePattern pattern;
	RouteOptions options;
	RouteHandler handler;
};


struct AdminHooks
/// What the admin endpoints report; each is called on an HTTP worker thread.
{
	std::function<bool()> ready;
	std::function<std::string()> metricsText;
	std::function<std::string()> pluginsJson;
};


class HttpFront
/// Routes and endpoints are registered before start() (plugins register in Plugin::start);
/// afterwards the tables are read-only and read by worker threads without locks.
{
public:
	HttpFront(Transport& transport, const HttpSettings& settings, Poco::Logger& logger);
	~HttpFront();

	int addListener(const ListenerSpec& spec);
	/// Declares a listener; returns its index. The socket is bound in start().
	int listenerIndex(const std::string& name) const;
	void setAdmin(const std::string& address, int port, AdminHooks hooks);

	bool addRoute(int listener, Route route, std::string& error);
	bool addEndpoint(int listener, std::unique_ptr<Endpoint> endpoint, std::string& error);

	void removeOwner(const PluginSlot* owner);
	/// Drops every route and endpoint of a plugin that failed to start (before start() only).

	void start();
	/// Binds and starts every listener; throws Poco::Exception with the address on failure.
	void stopAccepting();
	/// Stops the listeners' accept loops and waits for in-flight requests.

	std::uint64_t refusedConnections() const;
	std::uint64_t requestsServed() const { return _requests.load(); }

	class Dispatcher;

private:
	struct Listener
	{
		ListenerSpec spec;
		bool admin = false;
		std::vector<Route> routes;
		std::map<std::string, std::unique_ptr<Endpoint>> endpoints;
		std::unique_ptr<Poco::Net::HTTPServer> server;
	};

	friend class Dispatcher;

	Transport& _transport;
	HttpSettings _settings;
	Poco::Logger& _logger;
	std::vector<std::unique_ptr<Listener>> _listeners;
	AdminHooks _admin;
	std::unique_ptr<Poco::ThreadPool> _pool;
	std::atomic<std::uint64_t> _requests{0};
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_HttpFront_INCLUDED
