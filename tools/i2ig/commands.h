/* Sub-commands of the i2ig tool: each gets argv[0] = its own name and
 * returns the process exit status (0 ok, 1 failure, 2 usage error). */
#ifndef I2IG_TOOL_COMMANDS_H
#define I2IG_TOOL_COMMANDS_H

int cmd_version(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_translate(int argc, char **argv);
int cmd_create_model(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_train(int argc, char **argv);

#endif
