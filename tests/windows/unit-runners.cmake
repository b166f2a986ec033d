# The unit test runners also built for Windows (scripts/build-windows.sh puts them in
# build-windows/tests/) and run under Wine by the `windows` tests (tests/windows/CMakeLists.txt,
# as <Name>Wine). These are the runners whose code and support are portable; the others use POSIX
# files, processes or sockets in their fixtures (TempDir, TestServer, fork) and stay Linux-only, as
# do StorageTest (POSIX directory permissions) and PeerVaultTimeTextTest (checks against the C
# library's gmtime_r/timegm back to 1890, which Windows' C library does not have).
set(SWITCHBOARD_WINDOWS_UNIT_RUNNERS
	AddressRangeTest
	CodecFuzzTest
	CodecTest
	ConfigTest
	GovpnCodecTest
	GovpnFastRelayTest
	GovpnMirrorTest
	GovpnPluginTest
	HttpParserTest
	LineMessageTest
	MetricsTest
	OutputQueueTest
	PeerJsEnvelopeFuzzTest
	PeerJsEnvelopeTest
	PeerJsPluginTest
	PeerJsQueueTest
	PeerJsScanTest
	PeerVaultAuthTest
	PeerVaultEventsTest
	PeerVaultPluginTest
	PeerVaultSettingsTest
	PluginCommonTest
	PluginNamesTest
	RespTest
	RoutePatternTest
	TimerWheelTest
	TogetherAccountsTest
	TogetherHttpRulesTest
	TogetherMirrorTest
	TogetherRateBucketsTest
	TogetherSchemaTest
	TogetherSessionsTest
	TogetherTokensTest
	WsUnmaskTest)
