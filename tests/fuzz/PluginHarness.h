//
// PluginHarness.h
//
// One plugin running in a FakeHost for a fuzz target: made on first use, kept across inputs (a
// start per input would cost more than the input), and made anew every RENEW_AFTER inputs, since
// FakeHost keeps a record of every connection it ever opened. Plugin code may not throw out of a
// callback nor log an error for any input: FakeHost logs both, and check() turns them into a
// failed invariant.
//


#ifndef Switchboard_Test_PluginHarness_INCLUDED
#define Switchboard_Test_PluginHarness_INCLUDED


#include "FuzzSupport.h"
#include "switchboard/testing/FakeHost.h"
#include <functional>
#include <map>
#include <memory>
#include <string>


namespace Switchboard {
namespace Test {


template <class PluginType>
class PluginHarness
{
public:
	static constexpr unsigned RENEW_AFTER = 2000;

	using Prepare = std::function<void(FakeHost& host, PluginType& plugin)>;
	///< Runs after each start, e.g. to register the users a target needs.

	PluginHarness(std::string name, const ConfigKey* keys, std::size_t keyCount,
	              std::map<std::string, std::string> values, Prepare prepare = {}):
	    _name(std::move(name)),
	    _keys(keys),
	    _keyCount(keyCount),
	    _values(std::move(values)),
	    _prepare(std::move(prepare))
	{
	}

	~PluginHarness() { shutDown(); }

	PluginHarness(const PluginHarness&) = delete;
	PluginHarness& operator=(const PluginHarness&) = delete;

	void beginInput()
	/// Called first for every input: starts the plugin, or starts it anew when it is time.
	{
		if (_host && ++_inputs % RENEW_AFTER == 0)
			shutDown();
		if (!_host)
			startUp();
	}

	FakeHost& host() { return *_host; }
	PluginType& plugin() { return *_plugin; }

	void check(const std::string& context)
	/// No captured line at ERROR level (a plugin exception, a blocking call on a loop, a refused
	/// registration); the captured lines are dropped after the check.
	{
		for (const std::string& line : _host->logLines())
			FUZZ_CHECK_MSG(line.rfind("ERROR", 0) != 0, line + "\n  while: " + context);
		FUZZ_CHECK_MSG(_host->registrationErrors().empty(), _host->registrationErrors().front());
		_host->clearLog();
	}

private:
	void startUp()
	{
		_host = std::make_unique<FakeHost>(_name);
		_host->setLogLevel(LogLevel::LEVEL_WARNING);
		const std::string error = _host->setConfig(_keys, _keyCount, _values);
		FUZZ_CHECK_MSG(error.empty(), error);
		_plugin = std::make_unique<PluginType>();
		const StartResult result = _host->start(*_plugin);
		FUZZ_CHECK_MSG(result.status == StartStatus::STARTED, result.message);
		if (_prepare)
			_prepare(*_host, *_plugin);
		check("start");
	}

	void shutDown()
	{
		if (!_host)
			return;
		_host->stop(*_plugin);
		_plugin.reset();
		_host.reset();
	}

	std::string _name;
	const ConfigKey* _keys;
	std::size_t _keyCount;
	std::map<std::string, std::string> _values;
	Prepare _prepare;
	std::unique_ptr<FakeHost> _host;
	std::unique_ptr<PluginType> _plugin;
	unsigned _inputs = 0;
};


} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_PluginHarness_INCLUDED
