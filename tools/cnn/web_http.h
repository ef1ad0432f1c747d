// The httplib side of the web verbs: the page's files, JSON answers and errors, binding to a port. Only the files
// that run a server include this (httplib is a large header).
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>

namespace cnn::tool::web {

// Serves root/public at "/" and the npm packages the page uses from root/node_modules at "/vendor/…"
// (uPlot at /vendor/uplot/), read from disk at run time.
void mount_page(httplib::Server& server, const std::string& root);
// Every error answer gets a JSON body {"error": "..."} (httplib's own 404/413/… come without one), and an exception
// in a handler becomes a 500 while the server keeps serving.
void json_errors(httplib::Server& server);
void send_json(httplib::Response& res, const nlohmann::json& body, int status = 200);
void send_error(httplib::Response& res, int status, const std::string& message);
// Binds host:port (0: any free port) and returns the port; throws cnn::Error naming the address.
int bind(httplib::Server& server, const std::string& host, int port);

}  // namespace cnn::tool::web
