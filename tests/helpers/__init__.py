"""What tests in several folders share: servers, a browser, tiny builds, releases and the fault checker."""
