import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { SecurityModuleOptions } from './options/security-options.js';

export const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } =
  new ConfigurableModuleBuilder<SecurityModuleOptions>()
    .setClassMethodName('forRoot')
    .setExtras({ global: true }, (definition, extras) => ({ ...definition, global: extras.global }))
    .build();
