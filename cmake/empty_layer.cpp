// A layer with no sources of its own yet (CMake needs one to make its object library).
