//
// LoadGenerator.cpp
//


#include "LoadGenerator.h"
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>


namespace Switchboard {
namespace Bench {


namespace {


constexpr std::uint64_t STDIN_TAG = 0xFFFFFFFFull;
constexpr std::size_t SCRATCH_SIZE = 256 * 1024;
constexpr std::size_t MAX_FRAME_PAYLOAD = 128 * 1024; // PeerJS messages are at most 64 KiB
constexpr std::size_t MAX_HANDSHAKE_RESPONSE = 16 * 1024;
constexpr std::uint64_t MS = 1000000;
constexpr std::uint64_t PING_TIMEOUT_NS = 1000 * MS;
constexpr int TS_DIGITS = 19;
constexpr int SEQ_DIGITS = 10;
// PeerJS groups: the seq field carries the sender's slot in its low part (groups of at most 100).
constexpr std::uint64_t GROUP_SEQ_BASE = 128;
constexpr int SEND_BUDGET = 20000;         // scheduled sends per loop iteration before events are served again
constexpr int TLS_READ_BUFFER = 64 * 1024; // relay workloads: OpenSSL's read-ahead buffer, bytes per read()
constexpr int MAX_TLS_WRITE = 1 << 30;

// A CANDIDATE as the peerjs 1.5.5 client sends it (docs/protocols/peerjs.md §16), with the benchmark's timestamp
// and sequence inside the payload as fixed-width strings so the template never changes size.
const char MESSAGE_HEAD[] =
    "{\"type\":\"CANDIDATE\",\"payload\":{\"candidate\":{\"candidate\":\"candidate:1042475518 1 udp 2113937151 "
    "10.213.0.1 44758 typ host generation 0 ufrag LHOA network-cost 999\",\"sdpMid\":\"0\",\"sdpMLineIndex\":0,"
    "\"usernameFragment\":\"LHOA\"},\"type\":\"data\",\"connectionId\":\"dc_tspo15p26si\",";
const char TS_KEY[] = "\"ts\":\"";
const char SEQ_KEY[] = "\",\"seq\":\"";
const char HEARTBEAT[] = "{\"type\":\"HEARTBEAT\"}";
const char GOVPN_PING[] = "{\"message_id\":\"\",\"type\":\"Ping\",\"payload\":\"e30=\"}"; // payload: base64 of {}
// The mix a connecting pair of GoVPN peers sends: an Offer or Answer, then trickled candidates.
const Govpn::SignalType SIGNAL_MIX[] = {Govpn::OFFER,     Govpn::ANSWER,    Govpn::CANDIDATE,
                                        Govpn::CANDIDATE, Govpn::CANDIDATE, Govpn::CANDIDATE};
const char CLIENT_KEY[] = "dGhlIHNhbXBsZSBub25jZQ==";


std::uint64_t monotonicNs()
{
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}


bool contains(const char* data, std::size_t size, const char* needle)
{
	return memmem(data, size, needle, std::strlen(needle)) != nullptr;
}


double cpuSeconds(const rusage& u)
{
	return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
	       static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}


const char* workloadName(Workload w)
{
	switch (w)
	{
		case Workload::HOLD:
			return "hold";
		case Workload::CLOSED:
			return "closed";
		case Workload::OPEN:
			return "open";
		case Workload::PINGPONG:
			return "pingpong";
		case Workload::JOIN:
			return "join";
	}
	return "?";
}


std::string histogramJson(const LatencyHistogram& h)
{
	return "{\"count\":" + std::to_string(h.count()) + ",\"max_ns\":" + std::to_string(h.max()) +
	       ",\"hist\":" + h.toJson() + "}";
}


} // namespace


LoadGenerator::LoadGenerator(const GeneratorOptions& options):
    _options(options),
    _codec(monotonicNs() ^ (static_cast<std::uint64_t>(getpid()) << 32)),
    _scratch(SCRATCH_SIZE)
{
}


LoadGenerator::~LoadGenerator()
{
	for (Conn& c : _conns)
	{
		if (c.ssl)
			SSL_free(c.ssl);
		if (c.fd >= 0)
			::close(c.fd);
	}
	if (_tlsContext)
		SSL_CTX_free(_tlsContext);
	if (_epoll >= 0)
		::close(_epoll);
}


void LoadGenerator::buildConnections()
{
	if (govpn())
	{
		buildGovpnConnections();
		return;
	}
	const std::string& tag = _options.tag;
	if (_options.workload == Workload::HOLD)
	{
		_conns.resize(static_cast<std::size_t>(_options.connections));
		for (std::size_t i = 0; i < _conns.size(); ++i)
			_conns[i].id = tag + "-" + std::to_string(i) + "-h";
		return;
	}
	const int pairs = _options.workload == Workload::PINGPONG ? 1 : _options.pairs;
	const bool victim = _options.workload == Workload::OPEN && _options.victimRate > 0;
	_conns.resize(static_cast<std::size_t>(2 * pairs + (victim ? 2 : 0)));
	for (int p = 0; p < pairs; ++p)
	{
		// "-a"/"-b": the raw relay pairs connections by swapping this last letter.
		_conns[2 * p].id = tag + "-" + std::to_string(p) + "-a";
		_conns[2 * p + 1].id = tag + "-" + std::to_string(p) + "-b";
	}
	if (victim)
	{
		_flooder = 2 * pairs;
		_victim = 2 * pairs + 1;
		_conns[_flooder].id = tag + "-v-a";
		_conns[_victim].id = tag + "-v-b";
		_conns[_victim].victimFlow = true;
	}
	for (std::size_t i = 0; i < _conns.size(); ++i)
	{
		_conns[i].partner = static_cast<int>(i ^ 1);
	}
	if (peerjsGroups())
	{
		buildPeerjsGroups();
		return;
	}
	for (Conn& c : _conns)
		buildTemplate(c);
}


void LoadGenerator::buildPeerjsGroups()
{
	// Groups of roomSize consecutive connections, the traffic shape of GoVPN's rooms: each member
	// sends to the next other member in turn, so one template per destination.
	const int size = _options.roomSize;
	for (std::size_t i = 0; i < _conns.size(); ++i)
	{
		Conn& c = _conns[i];
		const int first = static_cast<int>(i) / size * size;
		c.room = static_cast<int>(i) / size;
		c.slot = static_cast<int>(i) - first;
		c.nextDestination = (c.slot + 1) % size;
		c.seqTo.assign(static_cast<std::size_t>(size), 0);
		c.seqFrom.assign(static_cast<std::size_t>(size), 0);
		c.groupMessages.assign(static_cast<std::size_t>(size), std::string());
		for (int slot = 0; slot < size; ++slot)
		{
			if (slot == c.slot)
				continue;
			c.partner = first + slot;
			buildTemplate(c);
			c.groupMessages[static_cast<std::size_t>(slot)] = std::move(c.message);
		}
		c.partner = first + c.nextDestination;
		c.message.clear();
	}
}


void LoadGenerator::buildTemplate(Conn& conn)
{
	const std::string& dst = _conns[static_cast<std::size_t>(conn.partner)].id;
	std::string m = MESSAGE_HEAD;
	m += TS_KEY;
	conn.tsOff = m.size();
	m.append(TS_DIGITS, '0');
	m += SEQ_KEY;
	conn.seqOff = m.size();
	m.append(SEQ_DIGITS, '0');
	m += "\"},\"dst\":\"";
	m += dst; // ids are plain ASCII without quotes or backslashes
	m += "\"}";
	const std::string pad = ",\"pad\":\"\"";
	if (_options.messageBytes > m.size() + pad.size())
	{
		// The filler goes inside the payload object, before its closing brace.
		const std::size_t at = m.find("\"},\"dst\"") + 1;
		std::string filler = ",\"pad\":\"" + std::string(_options.messageBytes - m.size() - pad.size(), 'x') + "\"";
		m.insert(at, filler);
	}
	conn.message = std::move(m);
}


int LoadGenerator::run()
{
	rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max)
	{
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	// Precise wake-ups for the open-loop schedule (the default slack is 50 µs).
	prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);

	if (_options.tls && !initTls())
		return 1;

	_epoll = epoll_create1(EPOLL_CLOEXEC);
	if (_epoll < 0)
	{
		std::perror("loadgen: epoll_create1");
		return 1;
	}
	if (!_options.autoGo)
	{
		epoll_event ev{};
		ev.events = EPOLLIN;
		ev.data.u64 = STDIN_TAG;
		if (epoll_ctl(_epoll, EPOLL_CTL_ADD, STDIN_FILENO, &ev) != 0)
			_stdinOpen = false; // e.g. /dev/null: not pollable, so no "stop" either
	}
	else
		_stdinOpen = false;

	buildConnections();
	_now = monotonicNs();
	_connectStartNs = _now;
	_connectDeadlineNs = _now + static_cast<std::uint64_t>(_options.connectTimeoutMs) * MS;
	if (_conns.empty())
		becomeReady(_now);
	else
		startConnects(_now);

	std::vector<epoll_event> events(512);
	bool pwait2 = true;
	int exitCode = 0;
	while (_phase != Phase::DONE)
	{
		_now = monotonicNs();
		const std::uint64_t wake = nextWakeNs();
		std::uint64_t waitNs = wake > _now ? wake - _now : 0;
		if (waitNs > 1000 * MS)
			waitNs = 1000 * MS;
		if (!_tlsPending.empty())
			waitNs = 0; // OpenSSL holds decrypted or read-ahead bytes that epoll will not report
		int n;
		if (pwait2)
		{
			timespec timeout;
			timeout.tv_sec = static_cast<time_t>(waitNs / 1000000000ull);
			timeout.tv_nsec = static_cast<long>(waitNs % 1000000000ull);
			n = epoll_pwait2(_epoll, events.data(), static_cast<int>(events.size()), &timeout, nullptr);
			if (n < 0 && errno == ENOSYS)
			{
				pwait2 = false;
				continue;
			}
		}
		else
			n = epoll_wait(_epoll, events.data(), static_cast<int>(events.size()),
			               static_cast<int>((waitNs + MS - 1) / MS));
		if (n < 0 && errno != EINTR)
		{
			std::perror("loadgen: epoll_wait");
			return 1;
		}
		_now = monotonicNs();
		for (int i = 0; i < n; ++i)
		{
			if (events[i].data.u64 == STDIN_TAG)
				onStdin();
			else
				onEvent(static_cast<int>(events[i].data.u64), events[i].events);
		}
		if (!_tlsPending.empty())
			runTlsPending();
		_now = monotonicNs();
		runSchedules();
		advance();
		flushDirty();
		if (_phase == Phase::READY && _now >= _goDeadlineNs)
		{
			std::fprintf(stderr, "loadgen: no \"go\" within %lld ms\n", static_cast<long long>(_options.goTimeoutMs));
			exitCode = 3;
			_phase = Phase::DONE;
		}
	}
	if (exitCode == 0)
		printResult();
	return exitCode;
}


void LoadGenerator::startConnects(std::uint64_t now)
{
	// Iterative: a connect that fails at once resolves inside connectOne() and must not recurse.
	if (_inStartConnects)
		return;
	_inStartConnects = true;
	while (_pending < _options.connectConcurrency && _nextConnect < static_cast<int>(_conns.size()))
	{
		const int index = _nextConnect++;
		++_pending;
		connectOne(index);
	}
	_inStartConnects = false;
	if (_phase == Phase::CONNECTING && _resolved == static_cast<int>(_conns.size()))
		becomeReady(now);
}


void LoadGenerator::connectOne(int index)
{
	Conn& c = _conns[static_cast<std::size_t>(index)];
	c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c.fd < 0)
	{
		if (_counters.connectErrors++ == 0)
			std::perror("loadgen: socket");
		c.state = State::CLOSED;
		return resolved(index, false);
	}
	int one = 1;
	setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!_options.sourceAddress.empty())
	{
		// Choose the port at connect(), per destination: bind() alone would pick it from one
		// source-wide pool and cap the connections per source address much lower.
		setsockopt(c.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		sockaddr_in local{};
		local.sin_family = AF_INET;
		inet_pton(AF_INET, _options.sourceAddress.c_str(), &local.sin_addr);
		if (::bind(c.fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0)
		{
			if (_counters.connectErrors++ == 0)
				std::perror("loadgen: bind");
			::close(c.fd);
			c.fd = -1;
			c.state = State::CLOSED;
			return resolved(index, false);
		}
	}
	sockaddr_in remote{};
	remote.sin_family = AF_INET;
	remote.sin_port = htons(static_cast<std::uint16_t>(portOf(index)));
	inet_pton(AF_INET, _options.targetAddress.c_str(), &remote.sin_addr);
	if (::connect(c.fd, reinterpret_cast<sockaddr*>(&remote), sizeof(remote)) != 0 && errno != EINPROGRESS)
	{
		if (_counters.connectErrors++ == 0)
			std::perror("loadgen: connect");
		::close(c.fd);
		c.fd = -1;
		c.state = State::CLOSED;
		return resolved(index, false);
	}
	c.state = State::CONNECTING;
	c.interest = EPOLLOUT;
	epoll_event ev{};
	ev.events = c.interest;
	ev.data.u64 = static_cast<std::uint64_t>(index);
	epoll_ctl(_epoll, EPOLL_CTL_ADD, c.fd, &ev);
}


void LoadGenerator::resolved(int, bool)
{
	--_pending;
	++_resolved;
	if (_phase != Phase::CONNECTING)
		return;
	startConnects(_now);
}


void LoadGenerator::becomeReady(std::uint64_t now)
{
	_phase = Phase::READY;
	_goDeadlineNs = now + static_cast<std::uint64_t>(_options.goTimeoutMs) * MS;
	printReady();
	if (!_conns.empty() && _options.heartbeatMs > 0)
	{
		// HEARTBEAT every heartbeatMs per connection, spread evenly over the period.
		for (std::size_t i = 0; i < _conns.size(); ++i)
			_heartbeats.conns.push_back(static_cast<int>(i));
		_heartbeats.intervalNs = double(_options.heartbeatMs) * double(MS) / double(_conns.size());
		_heartbeats.startNs = now + static_cast<std::uint64_t>(_heartbeats.intervalNs);
		_heartbeats.active = true;
	}
	if (_options.autoGo)
		go(now);
}


void LoadGenerator::go(std::uint64_t now)
{
	_phase = Phase::RUNNING;
	_goNs = now;
	if (_options.workload == Workload::HOLD || _options.workload == Workload::JOIN)
	{
		_windowStartNs = now;
		_windowEndNs = now + static_cast<std::uint64_t>(_options.measureMs) * MS;
	}
	else
	{
		_windowStartNs = now + static_cast<std::uint64_t>(_options.warmupMs) * MS;
		_windowEndNs = _windowStartNs + static_cast<std::uint64_t>(_options.measureMs) * MS;
	}
	switch (_options.workload)
	{
		case Workload::HOLD:
			break;
		case Workload::JOIN:
			// Every member at once: the plugin queues the hashing on its worker pool.
			for (std::size_t i = 0; i < _conns.size(); ++i)
			{
				if (_conns[i].slot > 0 && _conns[i].state == State::OPEN)
					sendJoin(static_cast<int>(i));
			}
			break;
		case Workload::CLOSED:
			for (int p = 0; p < _options.pairs; ++p)
			{
				for (int i = 0; i < _options.window; ++i)
					sendData(2 * p + (i & 1), now);
			}
			break;
		case Workload::OPEN:
			if (_options.rate > 0)
			{
				for (int i = 0; i < 2 * _options.pairs; ++i)
					_traffic.conns.push_back(i);
				_traffic.startNs = now;
				_traffic.intervalNs = 1e9 / _options.rate;
				_traffic.active = true;
			}
			if (_victim >= 0)
			{
				_victimTraffic.conns.push_back(_flooder);
				_victimTraffic.startNs = now;
				_victimTraffic.intervalNs = 1e9 / _options.victimRate;
				_victimTraffic.active = true;
				if (_options.victimStop)
				{
					_conns[static_cast<std::size_t>(_victim)].reading = false;
					updateInterest(_victim);
				}
			}
			break;
		case Workload::PINGPONG:
			_nextPingNs = now;
			break;
	}
}


void LoadGenerator::onStdin()
{
	char buffer[256];
	const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof(buffer));
	if (n <= 0)
	{
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		epoll_ctl(_epoll, EPOLL_CTL_DEL, STDIN_FILENO, nullptr);
		_stdinOpen = false;
		_stopRequested = true;
		return;
	}
	_stdinBuffer.append(buffer, static_cast<std::size_t>(n));
	std::size_t eol;
	while ((eol = _stdinBuffer.find('\n')) != std::string::npos)
	{
		std::string line = _stdinBuffer.substr(0, eol);
		_stdinBuffer.erase(0, eol + 1);
		if (!line.empty() && line.back() == '\r')
			line.pop_back();
		if (line == "go")
		{
			if (_phase == Phase::READY)
				go(_now);
		}
		else if (line == "stop")
			_stopRequested = true;
		else if (!line.empty())
			std::fprintf(stderr, "loadgen: unknown command '%s' (expected go or stop)\n", line.c_str());
	}
}


void LoadGenerator::advance()
{
	switch (_phase)
	{
		case Phase::CONNECTING:
			if (_now >= _connectDeadlineNs || _stopRequested)
			{
				// Give up on what is still pending; the ready line reports how many opened.
				_counters.connectErrors += _conns.size() - static_cast<std::size_t>(_nextConnect);
				_counters.setupTimeouts += _conns.size() - static_cast<std::size_t>(_nextConnect);
				_nextConnect = static_cast<int>(_conns.size());
				for (std::size_t i = 0; i < _conns.size() && _phase == Phase::CONNECTING; ++i)
				{
					State s = _conns[i].state;
					if (s == State::CONNECTING || s == State::TLS_HANDSHAKE || s == State::UPGRADING ||
					    s == State::AWAIT_OPEN)
					{
						++_counters.handshakeErrors;
						++_counters.setupTimeouts;
						closeConn(static_cast<int>(i), false);
					}
				}
				if (_phase == Phase::CONNECTING)
				{
					_resolved = static_cast<int>(_conns.size());
					becomeReady(_now);
				}
			}
			break;
		case Phase::READY:
			if (_stopRequested)
				_phase = Phase::DONE;
			break;
		case Phase::RUNNING:
			if (_options.workload == Workload::JOIN && _joinsOutstanding == 0)
				_windowEndNs = std::min(_windowEndNs, std::max(_now, _windowStartNs));
			if (!_windowOpened && _now >= _windowStartNs)
			{
				getrusage(RUSAGE_SELF, &_usageStart);
				_windowOpened = true;
			}
			if (_now >= _windowEndNs || _stopRequested)
			{
				getrusage(RUSAGE_SELF, &_usageEnd);
				if (!_windowOpened)
				{
					_usageStart = _usageEnd;
					_windowOpened = true;
				}
				if (_now < _windowEndNs)
					_windowEndNs = std::max(_now, _windowStartNs);
				_windowClosed = true;
				_traffic.active = false;
				_victimTraffic.active = false;
				if (_options.workload == Workload::HOLD || _options.workload == Workload::JOIN)
					_phase = Phase::DONE;
				else
				{
					_phase = Phase::DRAINING;
					_drainDeadlineNs = _now + static_cast<std::uint64_t>(_options.drainMs) * MS;
				}
			}
			break;
		case Phase::DRAINING:
			if (inFlight() == 0 || _now >= _drainDeadlineNs)
				_phase = Phase::DONE;
			break;
		case Phase::DONE:
			break;
	}
}


std::uint64_t LoadGenerator::nextWakeNs() const
{
	std::uint64_t wake = _now + 1000 * MS;
	auto consider = [&wake](std::uint64_t t) { wake = std::min(wake, t); };
	if (_heartbeats.active && _phase != Phase::CONNECTING)
		consider(_heartbeats.dueNs());
	switch (_phase)
	{
		case Phase::CONNECTING:
			consider(_connectDeadlineNs);
			break;
		case Phase::READY:
			consider(_goDeadlineNs);
			break;
		case Phase::RUNNING:
			if (_traffic.active)
				consider(_traffic.dueNs());
			if (_victimTraffic.active)
				consider(_victimTraffic.dueNs());
			if (_options.workload == Workload::PINGPONG)
				consider(_pingAwaiting ? _pingSentNs + PING_TIMEOUT_NS : _nextPingNs);
			if (!_windowOpened)
				consider(_windowStartNs);
			consider(_windowEndNs);
			break;
		case Phase::DRAINING:
			consider(_drainDeadlineNs);
			break;
		case Phase::DONE:
			break;
	}
	return wake;
}


void LoadGenerator::runSchedules()
{
	if (_heartbeats.active && _phase != Phase::CONNECTING && _phase != Phase::DONE)
	{
		int budget = 1000;
		while (_heartbeats.dueNs() <= _now && budget-- > 0)
		{
			const int index = _heartbeats.conns[_heartbeats.next % _heartbeats.conns.size()];
			if (_conns[static_cast<std::size_t>(index)].state == State::OPEN)
				sendHeartbeat(index);
			++_heartbeats.next;
		}
		if (_heartbeats.dueNs() + 1000 * MS < _now)
		{
			// Far behind (a stalled process): skip ahead instead of sending a burst.
			_heartbeats.next = static_cast<std::uint64_t>(double(_now - _heartbeats.startNs) / _heartbeats.intervalNs);
		}
	}
	if (_phase != Phase::RUNNING)
		return;
	int budget = SEND_BUDGET;
	for (Schedule* s : {&_traffic, &_victimTraffic})
	{
		while (s->active && budget > 0)
		{
			const std::uint64_t due = s->dueNs();
			if (due > _now || due >= _windowEndNs)
				break;
			const int index = s->conns[s->next % s->conns.size()];
			++s->next;
			--budget;
			if (_conns[static_cast<std::size_t>(index)].state != State::OPEN)
				continue;
			sendData(index, due); // the scheduled time: lateness counts as latency
			if (s == &_traffic && inWindow(due))
				_lateness.record(_now - due);
		}
	}
	if (_options.workload == Workload::PINGPONG)
	{
		if (_pingAwaiting && _now >= _pingSentNs + PING_TIMEOUT_NS)
		{
			++_counters.pingsLost;
			_pingAwaiting = false;
		}
		if (!_pingAwaiting && _now >= _nextPingNs && _now < _windowEndNs)
		{
			_pingSentNs = _now;
			_pingAwaiting = true;
			sendData(0, _now);
		}
	}
}


void LoadGenerator::onEvent(int index, std::uint32_t events)
{
	Conn& c = _conns[static_cast<std::size_t>(index)];
	if (c.state == State::CONNECTING)
	{
		onConnected(index);
		return;
	}
	if (c.ssl)
	{
		if (c.state == State::TLS_HANDSHAKE)
			tlsHandshake(index);
		else if (!c.reading && (events & (EPOLLHUP | EPOLLERR)))
			closeConn(index, true);
		else
		{
			// A write that waited for a read (or the reverse) is retried on the event it waited for.
			if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && c.tlsWriteWantsRead)
			{
				c.tlsWriteWantsRead = false;
				flush(index);
			}
			if ((events & EPOLLOUT) && c.tlsReadWantsWrite && c.state != State::CLOSED)
			{
				c.tlsReadWantsWrite = false;
				onReadableTls(index);
			}
			if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && c.state != State::CLOSED)
				onReadableTls(index);
			if ((events & EPOLLOUT) && c.state != State::CLOSED)
				flush(index);
		}
		return;
	}
	if (!c.reading && (events & (EPOLLHUP | EPOLLERR)))
	{
		// A stopped reader whose socket the server reset: epoll reports that whether asked or
		// not, so close it rather than spin on it.
		closeConn(index, true);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		onReadable(index);
	if ((events & EPOLLOUT) && c.state != State::CLOSED)
		flush(index);
}


void LoadGenerator::onConnected(int index)
{
	Conn& c = _conns[static_cast<std::size_t>(index)];
	int error = 0;
	socklen_t length = sizeof(error);
	if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0)
	{
		if (_counters.connectErrors++ == 0)
			std::fprintf(stderr, "loadgen: connect to %s:%d: %s\n", _options.targetAddress.c_str(), portOf(index),
			             std::strerror(error));
		if (error == ECONNREFUSED || error == ECONNRESET)
			++_counters.setupResets;
		else if (error == ETIMEDOUT)
			++_counters.setupTimeouts;
		closeConn(index, false);
		return;
	}
	if (_tlsContext)
		startTls(index);
	else
		sendUpgrade(index);
}


void LoadGenerator::sendUpgrade(int index)
{
	Conn& c = _conns[static_cast<std::size_t>(index)];
	if (govpn())
	{
		// As the real client dials: the key in X-Client-ID binds it to the socket (§5.1).
		c.out += "GET " + _options.path + " HTTP/1.1\r\nHost: " + _options.targetAddress + ":" +
		         std::to_string(_options.targetPort) +
		         "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Client-ID: " + c.key +
		         "\r\nSec-WebSocket-Key: " + CLIENT_KEY + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
		c.state = State::UPGRADING;
		flush(index);
		return;
	}
	std::string request = "GET " + _options.path + "?key=" + _options.key + "&id=" + c.id + "&token=t" + _options.tag +
	                      "&version=1.5.5 HTTP/1.1\r\nHost: " + _options.targetAddress + ":" +
	                      std::to_string(portOf(index)) +
	                      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + CLIENT_KEY +
	                      "\r\nSec-WebSocket-Version: 13\r\n\r\n";
	c.out += request;
	c.state = State::UPGRADING;
	flush(index);
}


void LoadGenerator::onReadable(int index)
{
	Conn& c = _conns[static_cast<std::size_t>(index)];
	char* scratch = _scratch.data();
	// A few reads per wake at most, so one busy connection cannot starve the others.
	for (int round = 0; round < 4 && c.state != State::CLOSED && c.reading; ++round)
	{
		const std::size_t carry = c.in.size();
		if (carry > SCRATCH_SIZE / 2)
		{
			++_counters.protocolErrors;
			closeConn(index, false);
			return;
		}
		std::memcpy(scratch, c.in.data(), carry);
		const std::size_t room = SCRATCH_SIZE - carry;
		const ssize_t n = ::read(c.fd, scratch + carry, room);
		if (n == 0)
		{
			closeConn(index, true);
			return;
		}
		if (n < 0)
		{
			if (errno == EAGAIN || errno == EINTR)
				return;
			closeConn(index, true, errno);
			return;
		}
		_now = monotonicNs();
		absorb(index, scratch, carry + static_cast<std::size_t>(n));
		if (static_cast<std::size_t>(n) < room)
			return;
	}
}


inline void LoadGenerator::absorb(int index, char* scratch, std::size_t total)
{
	// scratch holds the carried bytes and what was just read; what is left of a frame goes back to c.in.
	Conn& c = _conns[static_cast<std::size_t>(index)];
	std::size_t used;
	if (c.state == State::UPGRADING)
	{
		c.in.assign(scratch, total);
		if (!consumeHandshake(index))
			return;
		// consumeHandshake() left the bytes after the response in c.in.
		const std::size_t rest = c.in.size();
		std::memcpy(scratch, c.in.data(), rest);
		c.in.clear();
		used = consume(index, scratch, rest);
		if (c.state != State::CLOSED)
			c.in.assign(scratch + used, rest - used);
	}
	else
	{
		used = consume(index, scratch, total);
		if (c.state != State::CLOSED)
			c.in.assign(scratch + used, total - used);
	}
}


bool LoadGenerator::consumeHandshake(int index)
{
	Conn& c = _conns[static_cast<std::size_t>(index)];
	const std::size_t end = c.in.find("\r\n\r\n");
	if (end == std::string::npos)
	{
		if (c.in.size() > MAX_HANDSHAKE_RESPONSE)
		{
			++_counters.handshakeErrors;
			closeConn(index, false);
		}
		return false;
	}
	if (c.in.compare(0, 12, "HTTP/1.1 101") != 0)
	{
		if (_counters.handshakeErrors++ == 0)
			std::fprintf(stderr, "loadgen: upgrade refused: %s\n", c.in.substr(0, c.in.find('\r')).c_str());
		closeConn(index, false);
		return false;
	}
	c.in.erase(0, end + 4);
	c.state = State::AWAIT_OPEN;
	if (govpn())
		govpnUpgraded(index);
	return c.state != State::CLOSED;
}


std::size_t LoadGenerator::consume(int index, char* data, std::size_t size)
{
	Conn& c = _conns[static_cast<std::size_t>(index)];
	std::size_t offset = 0;
	while (offset < size && c.state != State::CLOSED)
	{
		ClientCodec::Frame frame;
		const ClientCodec::Parse result = ClientCodec::parse(data + offset, size - offset, MAX_FRAME_PAYLOAD, frame);
		if (result == ClientCodec::Parse::NEED_MORE)
			break;
		if (result == ClientCodec::Parse::INVALID)
		{
			++_counters.protocolErrors;
			closeConn(index, false);
			return size;
		}
		offset += frame.frameSize;
		switch (frame.opcode)
		{
			case ClientCodec::TEXT:
			case ClientCodec::BINARY:
				if (frame.fin)
					onMessage(index, frame.data, frame.size);
				else
					c.frag.assign(frame.data, frame.size);
				break;
			case ClientCodec::CONTINUATION:
				c.frag.append(frame.data, frame.size);
				if (frame.fin)
				{
					std::string message;
					message.swap(c.frag);
					onMessage(index, message.data(), message.size());
				}
				break;
			case ClientCodec::PING:
				_codec.appendFrame(c.out, ClientCodec::PONG, frame.data, frame.size);
				markDirty(index);
				break;
			case ClientCodec::PONG:
				break;
			case ClientCodec::CLOSE:
				closeConn(index, true);
				return size;
		}
	}
	return offset;
}


void LoadGenerator::onMessage(int index, const char* data, std::size_t size)
{
	if (govpn())
	{
		govpnMessage(index, data, size);
		return;
	}
	Conn& c = _conns[static_cast<std::size_t>(index)];
	if (c.state == State::AWAIT_OPEN)
	{
		if (contains(data, size, "\"type\":\"OPEN\""))
		{
			c.state = State::OPEN;
			++_opened;
			_lastOpenNs = _now;
			resolved(index, true);
			updateInterest(index);
		}
		else
		{
			if (_counters.handshakeErrors++ == 0)
				std::fprintf(stderr, "loadgen: handshake refused: %.*s\n",
				             static_cast<int>(std::min<std::size_t>(size, 200)), data);
			closeConn(index, false);
		}
		return;
	}
	const char* ts = static_cast<const char*>(memmem(data, size, TS_KEY, sizeof(TS_KEY) - 1));
	if (ts)
	{
		onData(index, ts, static_cast<std::size_t>(data + size - ts));
		return;
	}
	if (contains(data, size, "\"type\":\"LEAVE\""))
		++_counters.leaveFrames;
	else if (contains(data, size, "\"type\":\"EXPIRE\""))
		++_counters.expireFrames;
	else if (contains(data, size, "\"type\":\"ERROR\""))
	{
		if (_counters.errorFrames++ == 0)
			std::fprintf(stderr, "loadgen: server sent %.*s\n", static_cast<int>(std::min<std::size_t>(size, 200)),
			             data);
	}
	else
		++_counters.otherFrames;
}


void LoadGenerator::onData(int index, const char* at, std::size_t size)
{
	// at points at "ts":"<19 digits>","seq":"<10 digits>"
	constexpr std::size_t tsKey = sizeof(TS_KEY) - 1;
	constexpr std::size_t seqKey = sizeof(SEQ_KEY) - 1;
	std::uint64_t ts = 0;
	std::uint64_t seq = 0;
	if (size < tsKey + TS_DIGITS + seqKey + SEQ_DIGITS || !readDigits(at + tsKey, TS_DIGITS, ts) ||
	    std::memcmp(at + tsKey + TS_DIGITS, SEQ_KEY, seqKey) != 0 ||
	    !readDigits(at + tsKey + TS_DIGITS + seqKey, SEQ_DIGITS, seq))
	{
		++_counters.otherFrames;
		return;
	}
	Conn& c = _conns[static_cast<std::size_t>(index)];
	bool inOrder = false;
	if (peerjsGroups())
	{
		// seq = the sender's count of messages to this member * GROUP_SEQ_BASE + the sender's slot
		const std::size_t from = static_cast<std::size_t>(seq % GROUP_SEQ_BASE);
		if (from >= c.seqFrom.size())
		{
			++_counters.otherFrames;
			return;
		}
		inOrder = seq / GROUP_SEQ_BASE == c.seqFrom[from];
		c.seqFrom[from] = static_cast<std::uint32_t>(seq / GROUP_SEQ_BASE + 1);
	}
	else
	{
		inOrder = seq == c.seqIn;
		c.seqIn = seq + 1;
	}
	deliver(index, ts, inOrder);
}


void LoadGenerator::deliver(int index, std::uint64_t ts, bool inOrder)
{
	// A data message arrived at index, sent at ts: count it, record its latency, keep the loop going.
	Conn& c = _conns[static_cast<std::size_t>(index)];
	if (!inOrder)
		++_counters.outOfOrder;
	const std::uint64_t latency = _now > ts ? _now - ts : 0;
	if (c.victimFlow)
	{
		++_counters.victimReceived;
		if (inWindow(ts))
			_victimLatency.record(latency);
		return;
	}
	++_counters.received;
	if (inWindow(_now))
		++_counters.windowReceived;
	switch (_options.workload)
	{
		case Workload::CLOSED:
			if (inWindow(ts))
				_latency.record(latency);
			if (_phase == Phase::RUNNING && _now < _windowEndNs)
				sendData(index, _now); // closed loop: each arrival releases the next message
			break;
		case Workload::OPEN:
			if (inWindow(ts))
				_latency.record(latency);
			break;
		case Workload::PINGPONG:
			if (index == 1)
				sendData(1, ts); // the reply carries the initiator's timestamp back
			else
			{
				if (inWindow(ts))
					_latency.record(latency);
				_pingAwaiting = false;
				_nextPingNs = std::max(_pingSentNs + static_cast<std::uint64_t>(_options.intervalUs) * 1000, _now);
			}
			break;
		case Workload::HOLD:
		case Workload::JOIN:
			break;
	}
}


void LoadGenerator::closeConn(int index, bool byServer, int error)
{
	Conn& c = _conns[static_cast<std::size_t>(index)];
	if (c.state == State::CLOSED)
		return;
	const State before = c.state;
	if (c.ssl)
	{
		// No close_notify: the socket closes at once, as for a plain connection.
		SSL_free(c.ssl);
		c.ssl = nullptr;
		c.tlsReadWantsWrite = false;
		c.tlsWriteWantsRead = false;
	}
	if (c.fd >= 0)
	{
		epoll_ctl(_epoll, EPOLL_CTL_DEL, c.fd, nullptr);
		::close(c.fd);
		c.fd = -1;
	}
	c.state = State::CLOSED;
	c.in.clear();
	c.out.clear();
	c.outOff = 0;
	if (byServer)
		++_counters.closedByServer;
	if (before == State::CONNECTING || before == State::TLS_HANDSHAKE || before == State::UPGRADING ||
	    before == State::AWAIT_OPEN)
	{
		if (byServer && error != 0)
			++_counters.setupResets;
		else if (byServer)
			++_counters.setupClosed;
		resolved(index, false);
	}
}


void LoadGenerator::sendData(int index, std::uint64_t tsNs)
{
	Conn& c = _conns[static_cast<std::size_t>(index)];
	if (c.state != State::OPEN)
		return;
	if (c.out.size() - c.outOff > _options.maxPendingBytes)
	{
		++_counters.droppedSends;
		return;
	}
	if (govpn())
	{
		sendGovpnData(index, tsNs);
		return;
	}
	if (peerjsGroups())
	{
		// Templates differ only in dst (and the pad's length), so tsOff and seqOff hold for all.
		const std::size_t to = static_cast<std::size_t>(c.nextDestination);
		std::string& message = c.groupMessages[to];
		const std::uint64_t seq = std::uint64_t(c.seqTo[to]++) * GROUP_SEQ_BASE + std::uint64_t(c.slot);
		writeDigits(&message[c.tsOff], tsNs, TS_DIGITS);
		writeDigits(&message[c.seqOff], seq % 10000000000ull, SEQ_DIGITS);
		_codec.appendFrame(c.out, ClientCodec::TEXT, message.data(), message.size());
		_counters.dataBytes += message.size();
		++_counters.sent;
		c.nextDestination = (c.nextDestination + 1) % _options.roomSize;
		if (c.nextDestination == c.slot)
			c.nextDestination = (c.nextDestination + 1) % _options.roomSize;
		markDirty(index);
		return;
	}
	writeDigits(&c.message[c.tsOff], tsNs, TS_DIGITS);
	writeDigits(&c.message[c.seqOff], c.seqOut % 10000000000ull, SEQ_DIGITS);
	++c.seqOut;
	_codec.appendFrame(c.out, ClientCodec::TEXT, c.message.data(), c.message.size());
	if (_conns[static_cast<std::size_t>(c.partner)].victimFlow)
		++_counters.victimSent;
	else
	{
		++_counters.sent;
		_counters.dataBytes += c.message.size();
	}
	markDirty(index);
}


void LoadGenerator::sendHeartbeat(int index)
{
	Conn& c = _conns[static_cast<std::size_t>(index)];
	if (govpn())
		_codec.appendFrame(c.out, ClientCodec::TEXT, GOVPN_PING, sizeof(GOVPN_PING) - 1);
	else
		_codec.appendFrame(c.out, ClientCodec::TEXT, HEARTBEAT, sizeof(HEARTBEAT) - 1);
	++_counters.heartbeats;
	markDirty(index);
}


void LoadGenerator::markDirty(int index)
{
	Conn& c = _conns[static_cast<std::size_t>(index)];
	if (!c.dirty)
	{
		c.dirty = true;
		_dirty.push_back(index);
	}
}


void LoadGenerator::flushDirty()
{
	// Everything queued for a connection during this iteration goes out in one write.
	for (std::size_t i = 0; i < _dirty.size(); ++i)
	{
		const int index = _dirty[i];
		_conns[static_cast<std::size_t>(index)].dirty = false;
		if (_conns[static_cast<std::size_t>(index)].state != State::CLOSED)
			flush(index);
	}
	_dirty.clear();
}


void LoadGenerator::flush(int index)
{
	Conn& c = _conns[static_cast<std::size_t>(index)];
	if (c.ssl)
	{
		flushTls(index);
		return;
	}
	while (c.outOff < c.out.size())
	{
		const ssize_t n = ::send(c.fd, c.out.data() + c.outOff, c.out.size() - c.outOff, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0)
		{
			c.outOff += static_cast<std::size_t>(n);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		closeConn(index, true, n < 0 ? errno : EPIPE);
		return;
	}
	if (c.outOff == c.out.size())
	{
		c.out.clear();
		c.outOff = 0;
	}
	else if (c.outOff > (std::size_t(1) << 20))
	{
		c.out.erase(0, c.outOff);
		c.outOff = 0;
	}
	updateInterest(index);
}


void LoadGenerator::updateInterest(int index)
{
	Conn& c = _conns[static_cast<std::size_t>(index)];
	if (c.fd < 0 || c.state == State::CONNECTING || c.state == State::TLS_HANDSHAKE)
		return;
	std::uint32_t want = 0;
	if (c.reading || c.tlsWriteWantsRead)
		want |= EPOLLIN;
	if (c.outOff < c.out.size() || c.tlsReadWantsWrite)
		want |= EPOLLOUT;
	if (want == c.interest)
		return;
	c.interest = want;
	epoll_event ev{};
	ev.events = want;
	ev.data.u64 = static_cast<std::uint64_t>(index);
	epoll_ctl(_epoll, EPOLL_CTL_MOD, c.fd, &ev);
}


bool LoadGenerator::initTls()
{
	// Once per process: every connection shares this context. No session resumption (each client
	// is a new one), TLS 1.2 or later, ALPN http/1.1 as a browser offers it for a WebSocket.
	std::signal(SIGPIPE, SIG_IGN); // OpenSSL writes with write(), not send(MSG_NOSIGNAL)
	_tlsContext = SSL_CTX_new(TLS_client_method());
	if (!_tlsContext)
	{
		std::fprintf(stderr, "loadgen: SSL_CTX_new failed\n");
		return false;
	}
	SSL_CTX_set_min_proto_version(_tlsContext, TLS1_2_VERSION);
	SSL_CTX_set_session_cache_mode(_tlsContext, SSL_SESS_CACHE_OFF);
	// Partial writes and a moving buffer: c.out grows and is compacted between retries of SSL_write.
	long mode = SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER;
	if (_options.workload == Workload::HOLD)
		mode |= SSL_MODE_RELEASE_BUFFERS; // thousands of idle connections: no 34 KiB of buffers each
	else
		SSL_CTX_set_default_read_buffer_len(_tlsContext, TLS_READ_BUFFER);
	SSL_CTX_set_mode(_tlsContext, mode);
	SSL_CTX_set_read_ahead(_tlsContext, 1); // one read() for several records
	static const unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
	SSL_CTX_set_alpn_protos(_tlsContext, alpn, sizeof(alpn));
	if (_options.tlsCaFile.empty())
		SSL_CTX_set_verify(_tlsContext, SSL_VERIFY_NONE, nullptr);
	else
	{
		if (SSL_CTX_load_verify_locations(_tlsContext, _options.tlsCaFile.c_str(), nullptr) != 1)
		{
			char text[256];
			ERR_error_string_n(ERR_get_error(), text, sizeof(text));
			std::fprintf(stderr, "loadgen: cannot load --tls-ca %s: %s\n", _options.tlsCaFile.c_str(), text);
			ERR_clear_error();
			return false;
		}
		SSL_CTX_set_verify(_tlsContext, SSL_VERIFY_PEER, nullptr);
	}
	return true;
}


void LoadGenerator::startTls(int index)
{
	Conn& c = _conns[static_cast<std::size_t>(index)];
	c.ssl = SSL_new(_tlsContext);
	if (!c.ssl || SSL_set_fd(c.ssl, c.fd) != 1)
	{
		if (_counters.handshakeErrors++ == 0)
			std::fprintf(stderr, "loadgen: SSL_new or SSL_set_fd failed\n");
		ERR_clear_error();
		closeConn(index, false);
		return;
	}
	SSL_set_connect_state(c.ssl);
	if (!_options.tlsCaFile.empty())
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c.ssl), _options.targetAddress.c_str());
	c.state = State::TLS_HANDSHAKE;
	tlsHandshake(index);
}


void LoadGenerator::tlsHandshake(int index)
{
	Conn& c = _conns[static_cast<std::size_t>(index)];
	const int result = SSL_do_handshake(c.ssl);
	if (result == 1)
	{
		if (_tlsSession.empty())
		{
			const unsigned char* alpn = nullptr;
			unsigned int alpnSize = 0;
			SSL_get0_alpn_selected(c.ssl, &alpn, &alpnSize);
			const int group = SSL_get_negotiated_group(c.ssl);
			const char* groupName = group > 0 && !(group & TLSEXT_nid_unknown) ? OBJ_nid2sn(group) : nullptr;
			_tlsSession = std::string(SSL_get_version(c.ssl)) + " " + SSL_get_cipher_name(c.ssl) + " " +
			              (groupName ? groupName : "?") +
			              " alpn=" + (alpnSize ? std::string(reinterpret_cast<const char*>(alpn), alpnSize) : "none");
		}
		sendUpgrade(index); // UPGRADING; registers EPOLLIN through flush() and updateInterest()
		if (c.state != State::CLOSED && SSL_has_pending(c.ssl) && !c.tlsQueued)
		{
			c.tlsQueued = true;
			_tlsPending.push_back(index);
		}
		return;
	}
	const int error = SSL_get_error(c.ssl, result);
	if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE)
	{
		const std::uint32_t want = error == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
		if (want != c.interest)
		{
			c.interest = want;
			epoll_event ev{};
			ev.events = want;
			ev.data.u64 = static_cast<std::uint64_t>(index);
			epoll_ctl(_epoll, EPOLL_CTL_MOD, c.fd, &ev);
		}
		return;
	}
	tlsFailure(index, error, errno, true);
}


void LoadGenerator::onReadableTls(int index)
{
	// As onReadable(), but OpenSSL hands out one record per SSL_read(): fill the scratch buffer
	// with records until it would block, then parse. Bytes OpenSSL still holds after four rounds are
	// read on the next loop iteration (_tlsPending): epoll does not report them again.
	Conn& c = _conns[static_cast<std::size_t>(index)];
	char* scratch = _scratch.data();
	for (int round = 0; round < 4 && c.state != State::CLOSED && c.reading; ++round)
	{
		const std::size_t carry = c.in.size();
		if (carry > SCRATCH_SIZE / 2)
		{
			++_counters.protocolErrors;
			closeConn(index, false);
			return;
		}
		std::memcpy(scratch, c.in.data(), carry);
		std::size_t total = carry;
		int failure = SSL_ERROR_NONE;
		int failureErrno = 0;
		bool blocked = false;
		while (total < SCRATCH_SIZE)
		{
			const int n = SSL_read(c.ssl, scratch + total, static_cast<int>(SCRATCH_SIZE - total));
			if (n > 0)
			{
				total += static_cast<std::size_t>(n);
				continue;
			}
			failureErrno = errno;
			const int error = SSL_get_error(c.ssl, n);
			if (error == SSL_ERROR_WANT_READ)
				blocked = true;
			else if (error == SSL_ERROR_WANT_WRITE)
			{
				c.tlsReadWantsWrite = true;
				blocked = true;
			}
			else
				failure = error;
			break;
		}
		if (total > carry)
		{
			_now = monotonicNs();
			absorb(index, scratch, total);
		}
		if (failure != SSL_ERROR_NONE)
		{
			if (c.state != State::CLOSED)
				tlsFailure(index, failure, failureErrno, false);
			ERR_clear_error();
			return;
		}
		if (blocked)
		{
			if (c.tlsReadWantsWrite && c.state != State::CLOSED)
				updateInterest(index);
			return;
		}
	}
	if (c.state != State::CLOSED && c.reading && !c.tlsQueued && SSL_has_pending(c.ssl))
	{
		c.tlsQueued = true;
		_tlsPending.push_back(index);
	}
}


void LoadGenerator::runTlsPending()
{
	std::vector<int> work;
	work.swap(_tlsPending);
	for (const int index : work)
	{
		Conn& c = _conns[static_cast<std::size_t>(index)];
		c.tlsQueued = false;
		if (c.ssl && c.state != State::CLOSED && c.state != State::TLS_HANDSHAKE && c.reading)
			onReadableTls(index);
	}
}


void LoadGenerator::flushTls(int index)
{
	Conn& c = _conns[static_cast<std::size_t>(index)];
	while (c.outOff < c.out.size())
	{
		// A retry after WANT_WRITE passes at least the bytes of the first attempt, from the same
		// offset (SSL_write() requires that): c.out only grows at its end in between.
		const int size = static_cast<int>(std::min<std::size_t>(c.out.size() - c.outOff, MAX_TLS_WRITE));
		const int n = SSL_write(c.ssl, c.out.data() + c.outOff, size);
		if (n > 0)
		{
			c.outOff += static_cast<std::size_t>(n);
			continue;
		}
		const int savedErrno = errno;
		const int error = SSL_get_error(c.ssl, n);
		if (error == SSL_ERROR_WANT_WRITE)
			break;
		if (error == SSL_ERROR_WANT_READ)
		{
			c.tlsWriteWantsRead = true;
			break;
		}
		tlsFailure(index, error, savedErrno != 0 ? savedErrno : EPIPE, false);
		return;
	}
	if (c.outOff == c.out.size())
	{
		c.out.clear();
		c.outOff = 0;
	}
	else if (c.outOff > (std::size_t(1) << 20))
	{
		c.out.erase(0, c.outOff);
		c.outOff = 0;
	}
	updateInterest(index);
}


void LoadGenerator::tlsFailure(int index, int sslError, int savedErrno, bool handshake)
{
	// The server's end of stream, reset or alert, counted as closeConn() counts a plain one.
	const unsigned long code = ERR_peek_error();
	bool unexpectedEof = false;
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
	unexpectedEof = sslError == SSL_ERROR_SSL && ERR_GET_LIB(code) == ERR_LIB_SSL &&
	                ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
#endif
	if (sslError == SSL_ERROR_ZERO_RETURN || unexpectedEof)
		closeConn(index, true);
	else if (sslError == SSL_ERROR_SYSCALL && code == 0)
		closeConn(index, true, savedErrno); // errno 0: end of stream
	else
	{
		char text[256];
		ERR_error_string_n(code, text, sizeof(text));
		if (handshake ? _counters.handshakeErrors++ == 0 : _counters.protocolErrors++ == 0)
			std::fprintf(stderr, "loadgen: TLS %s with %s:%d failed: %s\n", handshake ? "handshake" : "connection",
			             _options.targetAddress.c_str(), portOf(index),
			             code ? text : (sslError == SSL_ERROR_SYSCALL ? std::strerror(savedErrno) : "?"));
		closeConn(index, false);
	}
	ERR_clear_error();
}


std::uint64_t LoadGenerator::inFlight() const
{
	std::uint64_t sent = _counters.sent;
	std::uint64_t received = _counters.received;
	if (!_options.victimStop)
	{
		sent += _counters.victimSent;
		received += _counters.victimReceived;
	}
	return sent > received ? sent - received : 0;
}


void LoadGenerator::printReady()
{
	std::printf("{\"event\":\"ready\",\"connections\":%zu,\"open\":%d,\"connect_start_ns\":%llu,\"last_open_ns\":%llu,"
	            "\"connect_errors\":%llu,\"handshake_errors\":%llu,\"setup_resets\":%llu,\"setup_closed\":%llu,"
	            "\"setup_timeouts\":%llu%s}\n",
	            _conns.size(), _opened, static_cast<unsigned long long>(_connectStartNs),
	            static_cast<unsigned long long>(_lastOpenNs), static_cast<unsigned long long>(_counters.connectErrors),
	            static_cast<unsigned long long>(_counters.handshakeErrors),
	            static_cast<unsigned long long>(_counters.setupResets),
	            static_cast<unsigned long long>(_counters.setupClosed),
	            static_cast<unsigned long long>(_counters.setupTimeouts),
	            _options.tls ? (",\"tls\":\"" + _tlsSession + "\"").c_str() : "");
	std::fflush(stdout);
}


void LoadGenerator::printResult()
{
	const Counters& k = _counters;
	const double cpu = _windowClosed ? cpuSeconds(_usageEnd) - cpuSeconds(_usageStart) : 0.0;
	const std::uint64_t windowNs = _windowClosed && _windowEndNs > _windowStartNs ? _windowEndNs - _windowStartNs : 0;
	auto u = [](std::uint64_t v) { return std::to_string(v); };
	std::string json = "{\"event\":\"result\",\"workload\":\"";
	json += workloadName(_options.workload);
	json += "\",\"connections\":" + u(_conns.size());
	json += ",\"open\":" + std::to_string(_opened);
	json += ",\"connect_start_ns\":" + u(_connectStartNs);
	json += ",\"last_open_ns\":" + u(_lastOpenNs);
	json += ",\"connect_errors\":" + u(k.connectErrors);
	json += ",\"handshake_errors\":" + u(k.handshakeErrors);
	json += ",\"setup_resets\":" + u(k.setupResets);
	json += ",\"setup_closed\":" + u(k.setupClosed);
	json += ",\"setup_timeouts\":" + u(k.setupTimeouts);
	json += ",\"closed_by_server\":" + u(k.closedByServer);
	json += ",\"protocol_errors\":" + u(k.protocolErrors);
	json += ",\"sent\":" + u(k.sent);
	json += ",\"received\":" + u(k.received);
	json += ",\"window_received\":" + u(k.windowReceived);
	json += ",\"window_ns\":" + u(windowNs);
	json += ",\"out_of_order\":" + u(k.outOfOrder);
	json += ",\"victim_sent\":" + u(k.victimSent);
	json += ",\"victim_received\":" + u(k.victimReceived);
	json += ",\"heartbeats\":" + u(k.heartbeats);
	json += ",\"leave_frames\":" + u(k.leaveFrames);
	json += ",\"expire_frames\":" + u(k.expireFrames);
	json += ",\"error_frames\":" + u(k.errorFrames);
	json += ",\"other_frames\":" + u(k.otherFrames);
	json += ",\"dropped_sends\":" + u(k.droppedSends);
	json += ",\"pings_lost\":" + u(k.pingsLost);
	json += ",\"data_bytes\":" + u(k.dataBytes);
	if (peerjsGroups())
		json += ",\"group_size\":" + std::to_string(_options.roomSize);
	if (govpn())
	{
		json += ",\"room_size\":" + std::to_string(_options.roomSize);
		json += ",\"rooms\":" + u(_rooms.size());
		json += ",\"joins\":" + u(k.joins);
		json += ",\"join_failures\":" + u(k.joinFailures);
		json += ",\"go_ns\":" + u(_goNs);
		json += ",\"last_join_ns\":" + u(_lastJoinNs);
	}
	char cpuText[64];
	std::snprintf(cpuText, sizeof(cpuText), "%.6f", cpu);
	if (_options.tls)
		json += ",\"tls\":\"" + _tlsSession + "\"";
	json += ",\"cpu_s\":";
	json += cpuText;
	json += ",\"latency\":" + histogramJson(_latency);
	json += ",\"lateness\":" + histogramJson(_lateness);
	json += ",\"victim_latency\":" + histogramJson(_victimLatency);
	json += "}\n";
	std::fwrite(json.data(), 1, json.size(), stdout);
	std::fflush(stdout);
}


// ---------------------------------------------------------------------------------------------
// GoVPN (docs/protocols/govpn.md)


namespace {


std::string hex8(std::uint32_t value)
{
	static const char HEX[] = "0123456789abcdef";
	std::string out(8, '0');
	for (int i = 7; i >= 0; --i, value >>= 4)
		out[static_cast<std::size_t>(i)] = HEX[value & 15];
	return out;
}


bool typeIs(const char* type, std::size_t left, const char* name)
{
	const std::size_t n = std::strlen(name);
	return left > n && std::memcmp(type, name, n) == 0 && type[n] == '"';
}


} // namespace


void LoadGenerator::buildGovpnConnections()
{
	const bool relay = _options.workload == Workload::CLOSED || _options.workload == Workload::OPEN;
	const int count = relay ? 2 * _options.pairs : _options.connections;
	const int size = _options.roomSize;
	_conns.resize(static_cast<std::size_t>(count));
	for (int first = 0; first < count; first += size)
	{
		Room room;
		room.first = first;
		room.size = std::min(size, count - first);
		_rooms.push_back(room);
	}
	for (int i = 0; i < count; ++i)
	{
		Conn& c = _conns[static_cast<std::size_t>(i)];
		const Room& room = _rooms[static_cast<std::size_t>(i / size)];
		c.room = i / size;
		c.slot = i - room.first;
		c.partner = room.first + (c.slot + 1) % room.size;
		c.nextDestination = (c.slot + 1) % room.size;
		c.key = Govpn::publicKey(_options.tag, i);
		c.id = c.key;
		if (relay)
		{
			c.seqTo.assign(static_cast<std::size_t>(room.size), 0);
			c.seqFrom.assign(static_cast<std::size_t>(room.size), 0);
		}
	}
}


void LoadGenerator::govpnUpgraded(int index)
{
	// Upgraded, not yet online in its room: stays AWAIT_OPEN until it is (roomReady()).
	Conn& c = _conns[static_cast<std::size_t>(index)];
	const Room& room = _rooms[static_cast<std::size_t>(c.room)];
	if (c.slot == 0)
	{
		const std::string inner = "{\"room_name\":\"bench " + _options.tag + " " + std::to_string(c.room) +
		                          "\",\"password\":\"" + _options.roomPassword + "\",\"public_key\":\"" + c.key + "\"}";
		const std::string frame = Govpn::envelope("CreateRoom", hex8(c.messageIds++), inner);
		_codec.appendFrame(c.out, ClientCodec::TEXT, frame.data(), frame.size());
		markDirty(index);
	}
	else if (!room.id.empty())
	{
		if (_options.workload == Workload::JOIN)
			roomReady(index); // joins at "go"
		else
			sendJoin(index);
	}
}


void LoadGenerator::sendJoin(int index)
{
	Conn& c = _conns[static_cast<std::size_t>(index)];
	const Room& room = _rooms[static_cast<std::size_t>(c.room)];
	const std::string inner = "{\"room_id\":\"" + room.id + "\",\"password\":\"" + _options.roomPassword +
	                          "\",\"public_key\":\"" + c.key + "\",\"username\":\"bench" + std::to_string(c.slot) +
	                          "\"}";
	const std::string frame = Govpn::envelope("JoinRoom", hex8(c.messageIds++), inner);
	_codec.appendFrame(c.out, ClientCodec::TEXT, frame.data(), frame.size());
	c.joinSentNs = _now;
	if (c.state == State::OPEN)
		++_joinsOutstanding; // JOIN's measured joins; a set-up join is counted by the ready line
	markDirty(index);
}


void LoadGenerator::roomReady(int index)
{
	Conn& c = _conns[static_cast<std::size_t>(index)];
	if (c.state != State::AWAIT_OPEN)
		return;
	c.state = State::OPEN;
	c.joinSentNs = 0;
	if (_options.workload == Workload::CLOSED || _options.workload == Workload::OPEN)
	{
		const std::string& roomId = _rooms[static_cast<std::size_t>(c.room)].id;
		c.signals.resize(Govpn::SIGNAL_TYPES);
		for (int t = 0; t < Govpn::SIGNAL_TYPES; ++t)
			c.signals[static_cast<std::size_t>(t)].build(static_cast<Govpn::SignalType>(t), c.key, roomId);
	}
	++_opened;
	_lastOpenNs = _now;
	resolved(index, true);
	updateInterest(index);
}


void LoadGenerator::govpnMessage(int index, const char* data, std::size_t size)
{
	// Server frames: {"message_id":"<id>","type":"<type>","payload":"<base64>"}\n, the type early.
	static const char TYPE_KEY[] = "\"type\":\"";
	const void* found = memmem(data, std::min<std::size_t>(size, 64), TYPE_KEY, sizeof(TYPE_KEY) - 1);
	if (!found)
	{
		++_counters.protocolErrors;
		return;
	}
	const char* type = static_cast<const char*>(found) + sizeof(TYPE_KEY) - 1;
	const std::size_t left = static_cast<std::size_t>(data + size - type);
	if (typeIs(type, left, "Candidate") || typeIs(type, left, "Offer") || typeIs(type, left, "Answer"))
	{
		std::uint64_t ts = 0;
		std::uint64_t seqField = 0;
		if (!Govpn::readStamp(data, size, ts, seqField))
		{
			++_counters.otherFrames;
			return;
		}
		Conn& c = _conns[static_cast<std::size_t>(index)];
		const std::size_t slot = static_cast<std::size_t>(seqField / Govpn::SLOT_SCALE);
		const std::uint32_t seq = static_cast<std::uint32_t>(seqField % Govpn::SLOT_SCALE);
		bool inOrder = false;
		if (slot < c.seqFrom.size())
		{
			inOrder = seq == c.seqFrom[slot];
			c.seqFrom[slot] = static_cast<std::uint32_t>((seq + 1) % Govpn::SLOT_SCALE);
		}
		deliver(index, ts, inOrder);
		return;
	}
	govpnSetupReply(index, data, size);
}


void LoadGenerator::govpnSetupReply(int index, const char* data, std::size_t size)
{
	static const char TYPE_KEY[] = "\"type\":\"";
	Conn& c = _conns[static_cast<std::size_t>(index)];
	const char* type =
	    static_cast<const char*>(memmem(data, size, TYPE_KEY, sizeof(TYPE_KEY) - 1)) + sizeof(TYPE_KEY) - 1;
	const std::size_t left = static_cast<std::size_t>(data + size - type);
	if (typeIs(type, left, "RoomCreated") && c.slot == 0 && c.state == State::AWAIT_OPEN)
	{
		Room& room = _rooms[static_cast<std::size_t>(c.room)];
		if (!Govpn::stringField(Govpn::decodedPayload(data, size), "room_id", room.id) ||
		    room.id.size() != Govpn::ROOM_ID_CHARS)
		{
			room.id.clear();
			++_counters.protocolErrors;
			closeConn(index, false);
			return;
		}
		roomReady(index);
		// Members upgraded before the room existed wait in AWAIT_OPEN without a join sent.
		for (int m = room.first + 1; m < room.first + room.size; ++m)
		{
			if (_conns[static_cast<std::size_t>(m)].state != State::AWAIT_OPEN)
				continue;
			if (_options.workload == Workload::JOIN)
				roomReady(m);
			else
				sendJoin(m);
		}
		return;
	}
	if (typeIs(type, left, "RoomJoined") && c.joinSentNs != 0)
	{
		if (c.state == State::AWAIT_OPEN)
			roomReady(index);
		else
		{
			if (inWindow(c.joinSentNs))
				_latency.record(_now - c.joinSentNs);
			c.joinSentNs = 0;
			++_counters.joins;
			--_joinsOutstanding;
			_lastJoinNs = _now;
		}
		return;
	}
	if (typeIs(type, left, "Error"))
	{
		// During set-up the connection cannot join its room: give it up, as a refused handshake.
		if (_counters.errorFrames++ == 0)
			std::fprintf(stderr, "loadgen: server sent Error %s\n", Govpn::decodedPayload(data, size).c_str());
		if (c.state == State::AWAIT_OPEN)
		{
			++_counters.handshakeErrors;
			closeConn(index, false);
		}
		else if (c.joinSentNs != 0)
		{
			c.joinSentNs = 0;
			++_counters.joinFailures;
			--_joinsOutstanding;
		}
		return;
	}
	++_counters.otherFrames; // UserRooms, ClientIPInfo, PeerJoined, Ping replies
}


void LoadGenerator::sendGovpnData(int index, std::uint64_t tsNs)
// sendData() has checked that the connection is open and not backed up.
{
	Conn& c = _conns[static_cast<std::size_t>(index)];
	const Room& room = _rooms[static_cast<std::size_t>(c.room)];
	const int destination = c.nextDestination;
	c.nextDestination = (destination + 1) % room.size;
	if (c.nextDestination == c.slot)
		c.nextDestination = (c.nextDestination + 1) % room.size;
	Govpn::SignalTemplate& signal =
	    c.signals[static_cast<std::size_t>(SIGNAL_MIX[c.nextSignal++ % (sizeof(SIGNAL_MIX) / sizeof(SIGNAL_MIX[0]))])];
	std::uint32_t& seq = c.seqTo[static_cast<std::size_t>(destination)];
	const std::uint64_t seqField = static_cast<std::uint64_t>(c.slot) * Govpn::SLOT_SCALE + seq;
	seq = static_cast<std::uint32_t>((seq + 1) % Govpn::SLOT_SCALE);
	const std::string& frame =
	    signal.patch(_conns[static_cast<std::size_t>(room.first + destination)].key, tsNs, seqField, c.messageIds++);
	_codec.appendFrame(c.out, ClientCodec::TEXT, frame.data(), frame.size());
	++_counters.sent;
	_counters.dataBytes += frame.size();
	markDirty(index);
}


} // namespace Bench
} // namespace Switchboard
