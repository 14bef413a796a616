// A Kafka cluster for tests, in its own process: librdkafka's mock cluster (rdkafka_mock.h),
// which speaks the Kafka protocol over real TCP listeners: producing, fetching, consumer
// groups, offset commits. Usage: kafka_mock_cluster [BROKERS]  (default 3)
// Prints "bootstrap HOST:PORT,..." and then takes one command per line on stdin, answering
// "ok" or "error WHY":
//   topic NAME PARTITIONS   create a topic (replicated on up to 3 brokers)
//   down ID | down all      a broker (1..BROKERS) stops answering
//   up ID | up all          and answers again
// It exits when stdin closes.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>

namespace {

std::string set_brokers(rd_kafka_mock_cluster_t* mc, int count, const std::string& which, bool up) {
  int from = 1, to = count;
  if (which != "all") {
    from = to = std::atoi(which.c_str());
    if (from < 1 || from > count) return "error no broker " + which;
  }
  for (int id = from; id <= to; ++id) {
    auto rc = up ? rd_kafka_mock_broker_set_up(mc, id) : rd_kafka_mock_broker_set_down(mc, id);
    if (rc) return std::string("error ") + rd_kafka_err2str(rc);
  }
  return "ok";
}

std::string run(rd_kafka_mock_cluster_t* mc, int brokers, const std::string& line) {
  std::istringstream in(line);
  std::string verb, arg;
  in >> verb >> arg;
  if (verb == "topic") {
    int partitions = 0;
    in >> partitions;
    if (arg.empty() || partitions < 1) return "error usage: topic NAME PARTITIONS";
    auto rc = rd_kafka_mock_topic_create(mc, arg.c_str(), partitions, brokers < 3 ? brokers : 3);
    return rc ? std::string("error ") + rd_kafka_err2str(rc) : "ok";
  }
  if (verb == "down" || verb == "up") return set_brokers(mc, brokers, arg, verb == "up");
  return "error unknown command '" + verb + "'";
}

}  // namespace

int main(int argc, char** argv) {
  int brokers = argc > 1 ? std::atoi(argv[1]) : 3;
  if (brokers < 1) brokers = 3;
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    std::fprintf(stderr, "kafka_mock_cluster: %s\n", err);
    return 1;
  }
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mc) {
    std::fprintf(stderr, "kafka_mock_cluster: cannot start the mock cluster\n");
    return 1;
  }
  std::cout << "bootstrap " << rd_kafka_mock_cluster_bootstraps(mc) << std::endl;
  for (std::string line; std::getline(std::cin, line);)
    if (!line.empty()) std::cout << run(mc, brokers, line) << std::endl;
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
