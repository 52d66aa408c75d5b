#ifndef LP_YAML_H
#define LP_YAML_H
#endif
