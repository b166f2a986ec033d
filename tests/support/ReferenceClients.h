//
// ReferenceClients.h
//
// Where the third-party reference clients used by the compatibility tests are: a directory
// beside the source tree, or wherever SWITCHBOARD_CLIENTS_DIR says. A bare clone has none; the
// tests that need one say so and skip.
//


#ifndef Switchboard_Test_ReferenceClients_INCLUDED
#define Switchboard_Test_ReferenceClients_INCLUDED


#include <string>


namespace Switchboard {
namespace Test {


std::string referenceClientsDir();
/// $SWITCHBOARD_CLIENTS_DIR when set and not empty, else ../shared/clients beside the source
/// tree. It may not exist.


} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_ReferenceClients_INCLUDED
