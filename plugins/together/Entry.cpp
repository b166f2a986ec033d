//
// Entry.cpp
//
// The Together plugin's entry point: the one symbol the host looks up.
//


#include "TogetherPlugin.h"


SWITCHBOARD_PLUGIN(Switchboard::Together::togetherDescriptor)
