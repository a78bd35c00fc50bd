"""The embedded brokers `make run`, the demo and the tests start when no bootstrap address is
set: Apache Kafka (and the three-node cluster of the fault tests) or Tansu."""
