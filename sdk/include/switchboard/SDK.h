//
// SDK.h
//
// Switchboard SDK: everything a plugin includes.
//
// The contract in one page
// ------------------------
// A plugin is a shared library exporting one entry point (SWITCHBOARD_PLUGIN) that returns a
// PluginDescriptor: ABI numbers, a build signature, names, declared configuration keys and a
// factory. The host loads it, checks the descriptor both ways, validates [plugin.<name>] against
// the declared keys, applies the plugin's migrations and calls Plugin::start(Host&, Setup&).
//
// In start() the plugin registers HTTP routes and WebSocket endpoints relative to its mount
// prefix through Setup, creates metrics and timers and reads its Config. From then on:
//   * HTTP route handlers run on HTTP worker threads, concurrently; they may block briefly.
//     Loop routes (Setup::addLoopRoute, ABI 4.4) run on the event loop and must not block.
//   * WebSocketHandler::onAccept runs on an event loop, like every connection callback.
//   * Each WebSocket connection lives on one event loop; its callbacks (onOpen, onMessage,
//     onBackpressure, onClose) never overlap, but different connections' callbacks do run at the
//     same time on different loops. State shared between connections needs a lock.
//   * Timers and offload() completions run on event loops too; offload() work on worker threads.
//   * Router, Metrics, Logger, Clock and Storage are safe from any thread; Connection& only inside
//     that connection's callbacks. Nothing on a loop may block: no synchronous storage there.
// Ids, not pointers, cross threads: ConnectionId values are never reused, so a message for a
// connection that has gone is answered CLOSED instead of reaching someone else.
//
// No exceptions cross the boundary: SDK calls report through return values, and the host catches
// whatever a plugin callback throws. Whoever allocates frees. The headers use only the standard
// library, so the ABI does not move with Poco or Boost; because they do use C++ types, plugins
// must be built with the host's compiler and standard library (the build signature enforces it).
//
// The SDK has three parts. The top-level headers are the boundary: what crosses dlopen, versioned
// by ABI_MAJOR.ABI_MINOR in Abi.h. util/ holds header-only helpers (JSON, HTTP text, CORS, route
// patterns, name rules) that are compiled into each side and never change the ABI. testing/ holds
// FakeHost, which runs a plugin without sockets, with the host's own rules and real SQLite.
//


#ifndef Switchboard_SDK_INCLUDED
#define Switchboard_SDK_INCLUDED


#include "switchboard/Abi.h"
#include "switchboard/ClusterChannel.h"
#include "switchboard/Config.h"
#include "switchboard/Host.h"
#include "switchboard/Http.h"
#include "switchboard/Log.h"
#include "switchboard/Metrics.h"
#include "switchboard/NameRegistry.h"
#include "switchboard/Plugin.h"
#include "switchboard/Storage.h"
#include "switchboard/WebSocket.h"
#include "switchboard/util/ConfigParse.h"
#include "switchboard/util/Cors.h"
#include "switchboard/util/HttpText.h"
#include "switchboard/util/Json.h"
#include "switchboard/util/Names.h"
#include "switchboard/util/RoutePattern.h"


#endif // Switchboard_SDK_INCLUDED
